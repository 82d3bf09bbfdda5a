"""The lean install from the inside: what ``import cdomail`` loads, and the missing-extra line.

A missing extra is simulated in a child interpreter with ``sys.modules[name] = None``, which
makes ``import name`` fail exactly as an absent package does (ModuleNotFoundError naming it).
The bare install itself, from a built wheel in a fresh venv, is tests/packaging/test_lean_install.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cdomail._extras import MissingExtra, require
from cdomail.errors import CdoMailError

OPTIONAL_PACKAGES = {"aiosmtpd", "trustme", "cryptography", "rich", "spnego", "django",
                     "starlette", "jinja2", "uvicorn", "pytest", "psycopg", "psycopg_pool"}
OPTIONAL_PARTS = {"cdomail.lab", "cdomail.probe", "cdomail.cdo", "cdomail.cli", "cdomail.bench",
                  "cdomail.testing", "cdomail.django", "cdomail.web", "cdomail.relay"}


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60)


def test_import_cdomail_loads_no_optional_part() -> None:
    done = run_python("""
        import json, sys
        import cdomail, cdomail.logging
        print(json.dumps(sorted(sys.modules)))
    """)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert {m.split(".")[0] for m in loaded} & OPTIONAL_PACKAGES == set()
    assert {m for m in loaded if m.startswith(tuple(OPTIONAL_PARTS))} == set()


def test_require_names_the_extra_in_one_line() -> None:
    with pytest.raises(MissingExtra) as raised:
        require("lab", "cdomail_test_absent_module")
    error = raised.value
    assert isinstance(error, CdoMailError) and isinstance(error, ModuleNotFoundError)
    assert str(error) == (
        "cdomail's lab needs the extra 'lab' (missing module 'cdomail_test_absent_module'):"
        " pip install 'cdomail[lab]'"
    )
    assert error.extra == "lab" and error.name == "cdomail_test_absent_module"


def test_require_does_not_disguise_a_broken_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Installed, but its own dependency is missing: that is not "install the extra".
    (tmp_path / "cdomail_test_broken").mkdir()
    (tmp_path / "cdomail_test_broken" / "__init__.py").write_text(
        "import cdomail_test_its_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as raised:
        require("lab", "cdomail_test_broken")
    assert not isinstance(raised.value, MissingExtra)
    assert raised.value.name == "cdomail_test_its_dependency"


@pytest.mark.parametrize(
    ("absent", "module", "extra", "part"),
    [
        ("aiosmtpd", "cdomail.lab", "lab", "lab"),
        ("trustme", "cdomail.lab", "lab", "lab"),
        ("cryptography", "cdomail.probe", "probe", "probe"),
        ("spnego", "cdomail.cdo.ntlm", "ntlm", "NTLM authentication (cdoNTLM)"),
        ("django", "cdomail.django", "django", "Django email backend"),
        ("rich", "cdomail.bench", "bench", "benchmark"),
        ("psycopg", "cdomail.relay.pg", "relay-postgres", "relay's PostgreSQL queue"),
    ],
)
def test_a_part_without_its_extra_says_which_to_install(
    absent: str, module: str, extra: str, part: str
) -> None:
    done = run_python(f"""
        import sys
        sys.modules[{absent!r}] = None
        from cdomail._extras import MissingExtra
        try:
            import {module}
        except MissingExtra as missing:
            print(missing)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"cdomail's {part} needs the extra {extra!r} (missing module"
                           f" {absent!r}): pip install 'cdomail[{extra}]'\n")


def run_cli(absent: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return run_python(f"""
        import sys
        sys.modules[{absent!r}] = None
        from cdomail.cli import main
        sys.exit(main({list(argv)!r}))
    """)


def test_cli_subcommand_without_its_extra_is_one_line_and_exit_69() -> None:
    done = run_cli("aiosmtpd", "lab", "--listen", "anything")
    assert done.returncode == 69
    assert done.stdout == ""
    assert done.stderr == ("cdomail lab: cdomail's lab needs the extra 'lab' (missing module"
                           " 'aiosmtpd'): pip install 'cdomail[lab]'\n")
    # The other subcommands still work, and the listing says what the missing one needs.
    listing = run_cli("aiosmtpd", "--help")
    assert listing.returncode == 0 and "pip install 'cdomail[lab]'" in listing.stdout
    assert run_cli("aiosmtpd", "send", "--help").returncode == 0


def test_cli_without_rich_is_one_line_and_exit_69() -> None:
    done = run_cli("rich", "send", "--help")
    assert done.returncode == 69
    assert done.stderr == ("cdomail: cdomail's command line needs the extra 'cli' (missing"
                           " module 'rich'): pip install 'cdomail[cli]'\n")


def test_pytest_plugin_loads_without_the_lab_extra() -> None:
    # pytest loads the plugin wherever cdomail is installed: a core install must not break it.
    done = run_python("""
        import sys
        sys.modules["aiosmtpd"] = None
        import cdomail.testing.pytest_plugin
        print("loaded")
    """)
    assert done.returncode == 0 and done.stdout == "loaded\n", done.stderr


def test_cdo_ntlm_without_pyspnego_says_which_extra_before_connecting() -> None:
    # Port 9 (discard) on loopback: had it tried to connect, the error would be a CdoError.
    done = run_python("""
        import sys
        sys.modules["spnego"] = None
        from cdomail._extras import MissingExtra
        from cdomail.cdo import (Configuration, Message, cdoNTLM, cdoSendPassword,
                                 cdoSendUserName, cdoSendUsingMethod, cdoSendUsingPort,
                                 cdoSMTPAuthenticate, cdoSMTPServer, cdoSMTPServerPort)
        conf = Configuration()
        for name, value in [(cdoSendUsingMethod, cdoSendUsingPort), (cdoSMTPServer, "127.0.0.1"),
                            (cdoSMTPServerPort, 9), (cdoSMTPAuthenticate, cdoNTLM),
                            (cdoSendUserName, "DOMAIN\\\\user"), (cdoSendPassword, "pw")]:
            conf.Fields[name] = value
        conf.Fields.Update()
        message = Message()
        message.Configuration = conf
        message.From, message.To, message.Subject = "a@example.test", "b@example.test", "s"
        message.TextBody = "body"
        try:
            message.Send()
        except MissingExtra as missing:
            print(missing)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("cdomail's NTLM authentication (cdoNTLM) needs the extra 'ntlm'"
                           " (missing module 'spnego'): pip install 'cdomail[ntlm]'\n")
