"""Headers, CSRF, the login and the bind rule: the console defends itself."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from cdomail.errors import ConfigurationError
from cdomail.lab import Lab
from cdomail.web import check_bind, create_app
from cdomail.web._security import CONSOLE_POLICY

from .conftest import csrf_of, send, simple_message


def test_every_page_carries_the_security_headers(client: TestClient, lab: Lab) -> None:
    send(lab, simple_message())
    key = lab.messages[0].maildir_key
    for path in ("/inbox", "/inbox/rows", f"/inbox/{key}", "/check", "/static/console.css",
                 "/no-such-page", f"/inbox/{key}/raw"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
        assert headers["content-security-policy"] == CONSOLE_POLICY, path
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY", path
    assert "script-src 'self'" in CONSOLE_POLICY and "'unsafe-inline'" not in CONSOLE_POLICY


def test_the_html_body_runs_no_script_and_loads_nothing_remote(client: TestClient,
                                                               lab: Lab) -> None:
    message = simple_message()
    message.add_alternative("<script>alert(1)</script><img src='http://198.51.100.1/x.png'>",
                            subtype="html")
    send(lab, message)
    key = lab.messages[0].maildir_key
    body = client.get(f"/inbox/{key}/body.html").headers
    policy = body["content-security-policy"]
    assert policy.startswith("default-src 'none';") and "script-src" not in policy
    assert "img-src data:;" in policy and policy.endswith("sandbox")
    assert body["x-frame-options"] == "SAMEORIGIN"
    assert body["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'self'" in policy
    with_images = client.get(f"/inbox/{key}/body.html?remote_images=1").headers
    assert "img-src data: http: https:;" in with_images["content-security-policy"]
    assert "script-src" not in with_images["content-security-policy"]
    page = client.get(f"/inbox/{key}").text
    assert '<iframe id="html-body" sandbox title' in page  # sandbox with no allow-* at all
    assert "allow-scripts" not in page


def test_meta_refresh_is_removed_from_html_bodies(client: TestClient, lab: Lab) -> None:
    message = simple_message()
    message.add_alternative(
        '<meta http-equiv="refresh" content="0;url=http://198.51.100.1/">hi', subtype="html")
    send(lab, message)
    body = client.get(f"/inbox/{lab.messages[0].maildir_key}/body.html").text
    assert "refresh" not in body and "hi" in body


@pytest.mark.parametrize("token", [None, "", "0" * 64])
def test_state_changes_need_this_visitors_csrf_token(client: TestClient, lab: Lab,
                                                     token: str | None) -> None:
    send(lab, simple_message())
    csrf_of(client)  # the client has a session cookie
    data = {} if token is None else {"csrf": token}
    key = lab.messages[0].maildir_key
    for path in (f"/inbox/{key}/delete", "/inbox/delete-all", "/check/probe", "/check/explain"):
        response = client.post(path, data=data)
        assert response.status_code == 403, path
    assert len(lab.messages) == 1


def test_a_token_from_another_session_or_another_origin_is_refused(client: TestClient,
                                                                   lab: Lab) -> None:
    send(lab, simple_message())
    key = lab.messages[0].maildir_key
    with TestClient(client.app, base_url="http://127.0.0.1:8025") as other:
        foreign = csrf_of(other)
    assert client.post(f"/inbox/{key}/delete", data={"csrf": foreign}).status_code == 403
    token = csrf_of(client)
    cross = client.post(f"/inbox/{key}/delete", data={"csrf": token},
                        headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert len(lab.messages) == 1
    same = client.post(f"/inbox/{key}/delete", data={"csrf": token},
                       headers={"Origin": "http://127.0.0.1:8025"}, follow_redirects=False)
    assert same.status_code == 303 and lab.messages == []


def test_state_changes_are_post_only(client: TestClient, lab: Lab) -> None:
    send(lab, simple_message())
    key = lab.messages[0].maildir_key
    assert client.get(f"/inbox/{key}/delete").status_code == 405
    assert client.get("/inbox/delete-all").status_code in (404, 405)  # never a deletion
    assert len(lab.messages) == 1


def test_session_cookie_is_httponly_and_strict(client: TestClient) -> None:
    cookie = client.get("/check").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would be dropped
    with TestClient(client.app, base_url="https://127.0.0.1:8025") as over_https:
        assert "; Secure" in over_https.get("/check").headers["set-cookie"]


def test_with_a_password_every_page_needs_the_login(lab: Lab) -> None:
    password = "correct horse battery staple"
    app = create_app(lab=lab, password=password)
    with TestClient(app, base_url="http://127.0.0.1:8025") as client:
        for path in ("/inbox", "/inbox/rows", "/check", "/"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/login"
        assert client.post("/inbox/delete-all").status_code == 401
        token = csrf_of(client, "/login")
        wrong = client.post("/login", data={"csrf": token, "password": "guess"})
        assert wrong.status_code == 401 and "Wrong password" in wrong.text
        before = client.cookies.get("cdomail_console")
        right = client.post("/login", data={"csrf": token, "password": password},
                            follow_redirects=False)
        assert right.status_code == 303
        assert client.cookies.get("cdomail_console") != before  # a fresh session id
        pages = [client.get(path) for path in ("/inbox", "/check", "/inbox/rows")]
        assert all(page.status_code == 200 for page in pages)
        for response in [wrong, right, *pages]:
            assert password not in response.text
            assert password not in str(response.headers)
        client.post("/logout", data={"csrf": csrf_of(client, "/inbox")})
        assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_wrong_passwords_sent_at_once_are_answered_one_at_a_time(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A delay per request would not slow a guesser who sends many at once: the answers to
    # wrong passwords are serialised, so N guesses cost at least N delays, however sent.
    # (A lower bound: a slow machine only makes it longer.)
    delay, guesses = 0.25, 6
    monkeypatch.setattr("cdomail.web._app.FAILED_LOGIN_DELAY", delay)
    password = "correct horse battery staple"
    app = create_app(lab=lab, password=password)
    with TestClient(app, base_url="http://127.0.0.1:8025") as client:
        token = csrf_of(client, "/login")

        def guess(number: int) -> int:
            return client.post("/login", data={"csrf": token, "password": f"guess {number}"},
                               follow_redirects=False).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(guesses) as pool:
            statuses = list(pool.map(guess, range(guesses)))
        elapsed = time.monotonic() - started
        assert statuses == [401] * guesses
        assert elapsed >= guesses * delay, f"{guesses} wrong guesses answered in {elapsed:.2f} s"
        right = client.post("/login", data={"csrf": token, "password": password},
                            follow_redirects=False)
        assert right.status_code == 303


def test_non_loopback_bind_needs_a_password() -> None:
    with pytest.raises(ConfigurationError, match=r"reachable from other machines on 0\.0\.0\.0"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ConfigurationError, match="set a login password"):
        check_bind("192.0.2.10", None)
    check_bind("0.0.0.0", "a password")
    for loopback in ("127.0.0.1", "::1", "localhost", "127.1.2.3"):
        check_bind(loopback, None)


def test_a_loopback_console_answers_only_to_loopback_names(client: TestClient) -> None:
    # DNS rebinding: evil.example re-pointed at 127.0.0.1 would be same-origin with the console.
    rebound = client.get("/inbox", headers={"Host": "evil.example:8025"})
    assert rebound.status_code == 400 and "Inbox" not in rebound.text
    for name in ("127.0.0.1:8025", "localhost:8025", "[::1]:8025"):
        assert client.get("/inbox", headers={"Host": name}).status_code == 200, name


def test_with_a_login_any_host_name_reaches_the_login(lab: Lab) -> None:
    app = create_app(lab=lab, password="p4ss")
    with TestClient(app, base_url="http://mail-console.internal:8025") as client:
        response = client.get("/inbox", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
