"""The relay queue page over a real spool: counts, filter, detail, actions, health."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cdomail.relay._model import ArrivalFacts, AttemptRecord, RecipientOutcome
from cdomail.relay.config import load_config
from cdomail.relay.queue import NodeIdentity, open_queue
from cdomail.relay.spool import Spool
from cdomail.web import create_app

from ..relay._relay import relay_toml
from .conftest import csrf_of

CONTENT = b"Message-ID: <m1@corp.example>\r\nSubject: hi\r\n\r\nbody\r\n"


def _store(spool_dir: Path, sender: str = "app@corp.example",
           recipients: tuple[str, ...] = ("b@x.example",)) -> str:
    with Spool.open(spool_dir) as spool:
        return spool.store(sender, list(recipients), CONTENT, ArrivalFacts(
            "192.0.2.7", "legacy-box", "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", "scanner",
            time.time(), True))


def _attempt(spool_dir: Path, message_id: str, reply: str, state: str = "queued",
             next_at: float | None = None) -> None:
    now = time.time()
    with Spool.open(spool_dir) as spool:
        spool.record_attempt(message_id, AttemptRecord(
            now - 1, now, "smtp.upstream.example:587", "TLSv1.3", "TLS_AES_256_GCM_SHA384",
            True, reply=reply), {"b@x.example": RecipientOutcome(state, reply)}, next_at)  # type: ignore[arg-type]


def _state_of(client: TestClient, message_id: str) -> str:
    match = re.search(r'<span id="state">([^<]*)</span>',
                      client.get(f"/relay/messages/{message_id}").text)
    assert match is not None
    return match.group(1)


def test_without_a_spool_the_page_says_so(relay_client: TestClient) -> None:
    response = relay_client.get("/relay")
    assert response.status_code == 503
    assert "has `cdomail relay run` started?" in response.text


def test_counts_list_and_filter(relay_client: TestClient, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    queued = _store(spool_dir, "queued@corp.example")
    delivered = _store(spool_dir, "done@corp.example")
    _attempt(spool_dir, delivered, "250 2.0.0 Ok: queued as 4F2", state="delivered")
    page = relay_client.get("/relay").text
    counts = dict(re.findall(r'data-state="(\w+)">\w+ <strong>(\d+)</strong>', page))
    assert counts["queued"] == "1" and counts["delivered"] == "1" and counts["held"] == "0"
    assert f'data-id="{queued}"' in page and f'data-id="{delivered}"' in page
    only_delivered = relay_client.get("/relay", params={"state": "delivered"}).text
    assert f'data-id="{delivered}"' in only_delivered
    assert f'data-id="{queued}"' not in only_delivered
    ignored = relay_client.get("/relay", params={"state": "'><script>"}).text
    assert f'data-id="{queued}"' in ignored and "<script>" not in ignored


def test_detail_shows_arrival_every_attempt_and_next_retry(relay_client: TestClient,
                                                           tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    message_id = _store(spool_dir)
    retry_at = time.time() + 600
    _attempt(spool_dir, message_id, "451 4.7.0 Try again later", next_at=retry_at)
    _attempt(spool_dir, message_id, "452 4.2.2 Mailbox full", next_at=retry_at)
    page = relay_client.get(f"/relay/messages/{message_id}").text
    assert "192.0.2.7" in page and "legacy-box" in page and "scanner" in page
    assert "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384" in page
    assert "bare LF normalised to CRLF" in page
    assert "Delivery attempts (2)" in page
    assert "451 4.7.0 Try again later" in page and "452 4.2.2 Mailbox full" in page
    assert page.count("smtp.upstream.example:587") == 2 and "verified" in page
    assert time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(retry_at)) in page
    assert "&lt;m1@corp.example&gt;" in page
    assert relay_client.get("/relay/messages/nope").status_code == 404


def test_actions_change_the_state(relay_client: TestClient, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    message_id = _store(spool_dir)
    token = csrf_of(relay_client)
    base = f"/relay/messages/{message_id}"
    response = relay_client.post(f"{base}/hold", data={"csrf": token, "reason": "wait"},
                                 follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == base
    assert _state_of(relay_client, message_id) == "held"
    assert "Held: wait" in relay_client.get(base).text
    relay_client.post(f"{base}/release", data={"csrf": token})
    assert _state_of(relay_client, message_id) == "queued"
    with Spool.open(spool_dir) as spool:
        spool.retry(message_id, now=time.time() + 3600)
    relay_client.post(f"{base}/retry", data={"csrf": token})
    with Spool.open(spool_dir) as spool:
        assert len(spool.due(time.time() + 1, 10)) == 1  # due now
    assert relay_client.post(f"{base}/retry", data={"csrf": "x"}).status_code == 403
    relay_client.post(f"{base}/delete", data={"csrf": token})
    assert relay_client.get(base).status_code == 404
    with Spool.open(spool_dir) as spool:
        assert spool.list() == []
    assert relay_client.post(f"{base}/hold", data={"csrf": token}).status_code == 404
    assert relay_client.post(f"{base}/explode", data={"csrf": token}).status_code == 404


def test_health_shows_the_last_error_in_words(relay_client: TestClient, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    _store(spool_dir)
    page = relay_client.get("/relay").text
    assert "No delivery attempt recorded yet" in page
    with Spool.open(spool_dir) as spool:
        spool.set_health("upstream", '{"reachable": false, "last_error": '
                         '"connection refused by smtp.upstream.example:587"}')
        spool.set_health("token", '"refresh token revoked: invalid_grant"')
        spool.hold_all("upstream refused our credentials")
    page = relay_client.get("/relay").text
    assert "last_error: connection refused by smtp.upstream.example:587" in page
    assert "refresh token revoked: invalid_grant" in page
    assert "ON HOLD: upstream refused our credentials" in page


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_node_table_shows_every_node_escaped(backend: str, tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    config_path = tmp_path / "relay.toml"
    config_text = relay_toml(tmp_path / "spool", 'address = "127.0.0.1:0"')
    if backend == "postgresql":
        url = request.getfixturevalue("pg_spool_config").url
        config_text = config_text.replace(f'path = "{tmp_path / "spool"}"', f'url = "{url}"')
    config_path.write_text(config_text)
    config = load_config(config_path)
    node = NodeIdentity("n0de1d", "host\x1b[31m<b>evil</b>", 4242, time.time() - 120,
                        "127.0.0.1:2525")
    with open_queue(config.spool) as queue, TestClient(
            create_app(relay_config=config), base_url="http://127.0.0.1:8025") as client:
        assert 'id="nodes">No <code>relay run</code> node' in client.get("/relay").text
        queue.store("app@corp.example", ["b@x.example"], CONTENT, ArrivalFacts(
            "192.0.2.7", None, None, None, None, time.time()))
        queue.register_node(node)
        claimed = queue.due(time.time() + 1, 10)  # the PostgreSQL queue leases it to the node
        queue.mark_sending([m.id for m in claimed])
        queue.heartbeat()
        page = client.get("/relay").text
        queue.unregister_node()
    row = re.search(r'<tr data-node="n0de1d">(.*?)</tr>', page, re.DOTALL)
    assert row is not None, page
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.DOTALL)
    assert cells[0] == "n0de1d" and cells[2] == "4242" and cells[7] == "127.0.0.1:2525"
    assert cells[1] == "host\\x1b[31m&lt;b&gt;evil&lt;/b&gt;"  # escaped, never markup
    assert cells[3] == time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(node.started_at))
    assert re.fullmatch(r"\d+ s", cells[5]) and int(cells[5][:-2]) < 30
    assert cells[6] == "1"  # the message on the wire
    assert "<b>evil" not in page and "\x1b" not in page
