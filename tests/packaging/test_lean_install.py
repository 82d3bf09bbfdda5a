"""``pip install cdomail`` with no extra, for real: a wheel built from this tree, installed with
no index at all into a fresh venv, sends through the lab (run from the full environment), and
the parts that need an extra say which one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from cdomail.lab import Lab
from cdomail.testing import LAB_PASSWORD, LAB_USER

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding cdomail and nothing else (not even pip): its bin/ folder."""
    base = tmp_path_factory.mktemp("lean-install")
    built = run(sys.executable, "-m", "build", "--no-isolation", "--wheel",
                "--outdir", base / "dist", ROOT)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (base / "dist").glob("cdomail-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [line for line in archive.read(metadata).decode().splitlines()
                    if line.startswith("Requires-Dist:")]
    # Every requirement belongs to an extra: the core installs nothing else.
    assert requires and all("; extra ==" in line for line in requires), requires
    created = run(sys.executable, "-m", "venv", "--without-pip", base / "venv")
    assert created.returncode == 0, created.stderr
    bin_dir = base / "venv" / "bin"
    # --no-index: a dependency of the core would have nowhere to come from, and fail here.
    installed = run(sys.executable, "-m", "pip", "--python", bin_dir / "python", "install",
                    "--no-index", "--disable-pip-version-check", "-q", wheel)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return bin_dir


@pytest.mark.slow
def test_bare_core_sends_through_the_lab(bare_venv: Path, lab: Lab) -> None:
    script = textwrap.dedent(f"""
        import json, sys
        import cdomail
        import cdomail.cdo  # CDO (without NTLM) is part of the core
        from cdomail.logging import SMTPHandler
        from email.message import EmailMessage
        message = EmailMessage()
        message["From"] = "core@example.test"
        message["To"] = "someone@example.test"
        message["Subject"] = "from a bare install"
        message.set_content("no extras here")
        result = cdomail.send(message, host="localhost", port={lab.port("starttls-required")},
                              cafile={str(lab.ca_path)!r}, username={LAB_USER!r},
                              password={LAB_PASSWORD!r})
        third_party = sorted({{m.split(".")[0] for m in sys.modules}}
                             - set(sys.stdlib_module_names) - {{"cdomail", "__main__"}})
        print(json.dumps({{"result": result.to_dict(), "file": cdomail.__file__,
                          "third_party": third_party}}))
    """)
    done = run(bare_venv / "python", "-c", script)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["file"].startswith(str(bare_venv.parent))  # the installed copy, not src/
    assert report["third_party"] == []
    assert report["result"]["ok"] and report["result"]["encrypted"]
    [stored] = lab.messages
    assert stored.encrypted and stored.authenticated_as == LAB_USER
    assert b"Subject: from a bare install" in stored.data
    installed = {p.name.split("-")[0] for p in (bare_venv.parent / "lib").glob(
        "python*/site-packages/*.dist-info")}
    assert installed == {"cdomail"}


@pytest.mark.slow
def test_bare_core_names_the_missing_extras(bare_venv: Path) -> None:
    for module, extra, missing in [("cdomail.lab", "lab", "aiosmtpd"),
                                   ("cdomail.probe", "probe", "cryptography"),
                                   ("cdomail.django", "django", "django")]:
        done = run(bare_venv / "python", "-c", f"import {module}")
        assert done.returncode == 1
        assert done.stderr.splitlines()[-1].endswith(
            f"needs the extra {extra!r} (missing module {missing!r}):"
            f" pip install 'cdomail[{extra}]'")
    cli = run(bare_venv / "cdomail", "send", "--server", "localhost", "--to", "a@example.test")
    assert cli.returncode == 69
    assert cli.stderr == ("cdomail: cdomail's command line needs the extra 'cli' (missing"
                          " module 'rich'): pip install 'cdomail[cli]'\n")
    assert "Traceback" not in cli.stderr and cli.stdout == ""
