"""Browser tests: Debian's chromium driven by Playwright for Python, against a served console.

Playwright's own browser download is never used (``executable_path`` points at the system
chromium). Without chromium or Playwright these tests skip with the reason, except under
``CI=true``, where a missing browser fails them: CI installs it (.ci/install-browser.sh).
Set ``CDOMAIL_WEB_SCREENSHOTS=DIR`` to save the page screenshots the docs use.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cdomail.lab import Lab
from cdomail.relay.config import load_config
from cdomail.relay.spool import Spool
from cdomail.web import RunningConsole, create_app, start_console

from ..relay._relay import relay_toml

CHROMIUM = os.environ.get("CDOMAIL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: Typed port -> lab listener for the check-a-server form.
LAB_PORTS = {25: "starttls-required", 465: "smtps", 587: "starttls", 2525: "plain"}


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must install it: .ci/install-browser.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


@dataclass
class Console:
    url: str
    lab: Lab
    spool_dir: Path


@pytest.fixture
def console(lab: Lab, tmp_path: Path) -> Iterator[Console]:
    """The console served by uvicorn on a free loopback port: the lab, a relay spool, checks."""
    config_path = tmp_path / "relay.toml"
    config_path.write_text(relay_toml(tmp_path / "spool", 'address = "127.0.0.1:0"'))
    Spool.open(tmp_path / "spool").close()
    connect_to = {port: (lab.host, lab.port(mode)) for port, mode in LAB_PORTS.items()}
    app = create_app(lab=lab, relay_config=load_config(config_path), probe_cafile=lab.ca_path,
                     probe_connect_to=connect_to)
    running: RunningConsole = start_console(app, "127.0.0.1", 0)
    try:
        yield Console(running.url.rstrip("/"), lab, tmp_path / "spool")
    finally:
        running.stop()


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = (b"\x89PNG\r\n\x1a\n" if self.path.endswith(".png") else b"/* nothing */")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Remote:
    """A loopback web server standing in for 'the Internet': it records every request."""

    origin: str
    hits: list[str]


@pytest.fixture
def remote() -> Iterator[Remote]:
    hits: list[str] = []
    handler = type("Recorder", (_Recorder,), {"hits": hits})
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Remote(f"http://127.0.0.1:{server.server_address[1]}", hits)
        finally:
            server.shutdown()
            thread.join(5)


def screenshot(page: Any, name: str) -> None:
    """Save ``docs/web-<name>.png`` style screenshots when CDOMAIL_WEB_SCREENSHOTS is set."""
    folder = os.environ.get("CDOMAIL_WEB_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"web-{name}.png"), full_page=False)


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())
