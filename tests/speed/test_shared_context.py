"""SSLContexts shared between clients with the same TLS settings (issue 13 target 2)."""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from pathlib import Path

import pytest
import trustme

import cdomail
from cdomail import tls
from cdomail._backends import _hostname
from cdomail._backends._hostname import cached_local_hostname, default_local_hostname
from cdomail.errors import CertificateVerifyFailed
from cdomail.lab import Lab
from cdomail.tls import TLSSettings, clear_ssl_context_cache, shared_ssl_context


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_ssl_context_cache()


def _write_ca(path: Path) -> trustme.CA:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(path))
    return ca


def test_same_settings_share_one_context(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    _write_ca(cafile)
    settings = TLSSettings(cafile=str(cafile))
    first = shared_ssl_context(settings)
    assert shared_ssl_context(TLSSettings(cafile=str(cafile))) is first
    assert first.verify_mode is ssl.CERT_REQUIRED and first.check_hostname


def test_different_settings_never_share(tmp_path: Path) -> None:
    ca = _write_ca(tmp_path / "ca.pem")
    client = ca.issue_cert("client.test")
    client.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "client.pem"))
    variants = [
        TLSSettings(),
        TLSSettings(verify=False),
        TLSSettings(fingerprint="AA" * 32),
        TLSSettings(minimum_version="1.3"),
        TLSSettings(cafile=str(tmp_path / "ca.pem")),
        TLSSettings(client_cert=str(tmp_path / "client.pem")),
    ]
    contexts = [shared_ssl_context(settings) for settings in variants]
    assert len({id(context) for context in contexts}) == len(variants)
    unverified, pinned, tls13 = contexts[1], contexts[2], contexts[3]
    assert unverified.verify_mode is ssl.CERT_NONE and pinned.verify_mode is ssl.CERT_NONE
    assert contexts[0].verify_mode is ssl.CERT_REQUIRED
    assert tls13.minimum_version is ssl.TLSVersion.TLSv1_3
    assert contexts[0].minimum_version is ssl.TLSVersion.TLSv1_2


def test_a_changed_cafile_gives_a_new_context_that_trusts_the_new_ca(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    old_ca = _write_ca(cafile)
    settings = TLSSettings(cafile=str(cafile))
    old = shared_ssl_context(settings)
    new_ca = trustme.CA()
    replacement = tmp_path / "new.pem"
    new_ca.cert_pem.write_to_path(str(replacement))
    os.replace(replacement, cafile)  # how tools update a bundle: a new inode
    new = shared_ssl_context(settings)
    assert new is not old
    subjects = [cert["subject"] for cert in new.get_ca_certs()]
    assert subjects == [_subject(new_ca)] and _subject(old_ca) not in subjects


def _subject(ca: trustme.CA) -> object:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no system store: only this CA
    context.load_verify_locations(cadata=ca.cert_pem.bytes().decode())
    return next(cert["subject"] for cert in context.get_ca_certs())


def test_the_system_trust_store_file_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle.pem"
    _write_ca(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    first = shared_ssl_context(TLSSettings())
    assert shared_ssl_context(TLSSettings()) is first
    with bundle.open("ab") as extra:  # one more CA appended: size and mtime change
        extra.write(trustme.CA().cert_pem.bytes())
    second = shared_ssl_context(TLSSettings())
    assert second is not first and len(second.get_ca_certs()) == 2


def test_threads_starting_together_get_one_context() -> None:
    barrier = threading.Barrier(8)
    seen: list[ssl.SSLContext] = []

    def worker() -> None:
        barrier.wait()
        seen.append(shared_ssl_context(TLSSettings(minimum_version="1.3")))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len({id(context) for context in seen}) == 1


def test_one_shot_sends_over_implicit_tls_share_the_context_and_still_verify(lab: Lab) -> None:
    options = {"host": lab.host, "port": lab.port("smtps"), "tls": "implicit",
               "cafile": str(lab.ca_path), "local_hostname": "client.test"}
    message = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\n\r\nbody\r\n"
    results = [cdomail.send(message, **options) for _ in range(2)]  # type: ignore[arg-type]
    assert all(r.tls is not None and r.tls.verified and r.tls.verified_by == "ca"
               for r in results)
    # Both sends used one context, built once: the cache holds it alone.
    shared = shared_ssl_context(TLSSettings(cafile=str(lab.ca_path)))
    assert list(tls._CONTEXTS.values()) == [shared]
    assert len(lab.messages) == 2
    # A shared context does not weaken anything: without the lab CA the send is refused.
    with pytest.raises(CertificateVerifyFailed):
        cdomail.send(message, **{**options, "cafile": None})  # type: ignore[arg-type]
    assert len(lab.messages) == 2


# --- the local host name -------------------------------------------------------------------


def test_the_host_name_is_looked_up_once_and_kept() -> None:
    name = default_local_hostname()
    assert default_local_hostname() is name and cached_local_hostname() is name
    assert name and " " not in name and name.isascii()


def test_async_client_looks_the_name_up_when_connecting_not_when_built(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_hostname, "_LOCAL_HOSTNAME", None)  # as in a fresh process

    async def run() -> tuple[str | None, str | None]:
        client = cdomail.AsyncSMTPClient(lab.host, lab.port("plain"), tls="none")
        before = cached_local_hostname()  # building the client resolved nothing
        async with client:
            pass
        return before, cached_local_hostname()

    before, after = asyncio.run(run())
    assert before is None and after is not None
    ehlo = [line.line.decode() for s in lab.sessions for line in s.lines("C")
            if line.line.upper().startswith(b"EHLO")]
    assert ehlo == [f"EHLO {after}"]
