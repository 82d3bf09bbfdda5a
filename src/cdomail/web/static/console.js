// cdomail console: the only script. It keeps the inbox list live by fetching the
// server-rendered rows every second (the server escapes them), and copies snippets.
"use strict";
(function () {
  const rows = document.getElementById("inbox-rows");
  if (rows && rows.dataset.live) {
    let last = rows.innerHTML;
    const refresh = async function () {
      try {
        const response = await fetch(rows.dataset.live, { credentials: "same-origin", cache: "no-store" });
        if (response.ok) {
          const html = await response.text();
          if (html !== last) {
            rows.innerHTML = html;
            last = html;
          }
          const total = document.getElementById("total");
          const kept = response.headers.get("X-Inbox-Total");
          if (total && kept !== null) { total.textContent = kept; }
        }
      } catch (error) {
        // The console stopped or the network hiccupped: try again on the next tick.
      }
      window.setTimeout(refresh, 1000);
    };
    window.setTimeout(refresh, 1000);
  }
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      const text = button.parentElement.querySelector("pre").textContent;
      if (navigator.clipboard) { navigator.clipboard.writeText(text); }
      button.textContent = "Copied";
    });
  });
})();
