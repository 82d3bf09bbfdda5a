"""The import rules of docs/architecture.md: protocol <- session <- drivers <- the rest.

Read from the source (``ast``), so an import inside a function counts too; imports under
``if TYPE_CHECKING:`` are types only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cdomail

PACKAGE = Path(cdomail.__file__).parent
IO_MODULES = {"socket", "ssl", "asyncio", "selectors", "threading", "anyio", "trio"}
#: Lower number: lower layer. A module may import its own layer and the ones below.
LAYERS = {
    "protocol": 0,
    "session": 1,
    "_async": 2, "_sync": 2, "_backends": 2, "_client_base": 2,
    "pool": 3, "_pool_rules": 3, "process_pool": 3, "_process_worker": 3,
    "probe": 3, "cdo": 3, "cli": 3,
    "relay": 3, "web": 3, "bench": 3, "django": 3, "log_handler": 3, "lab": 3,
    "testing": 3, "demo": 3,
}


def _runtime_imports(path: Path) -> list[str]:
    """Absolute names of the modules ``path`` imports at run time."""
    package = ".".join(("cdomail", *path.relative_to(PACKAGE).parent.parts))
    return _imports_in(path.read_text(), package)


def _imports_in(source: str, package: str) -> list[str]:
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(inner) for inner in ast.walk(node)}
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.append(node.module or "")
            else:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.append(".".join([*base, node.module] if node.module else base))
    return names


#: The pools live beside the clients they drive (generated the same way) but sit above them.
POOL_MODULES = {"cdomail._async.pool", "cdomail._sync.pool"}


def _layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "cdomail" or len(parts) < 2:
        return None
    if ".".join(parts[:3]) in POOL_MODULES:
        return LAYERS["pool"]
    return LAYERS.get(parts[1])


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_protocol_and_session_import_no_io_module() -> None:
    checked = 0
    for layer in ("protocol", "session"):
        for path in sorted((PACKAGE / layer).glob("*.py")):
            checked += 1
            for name in _runtime_imports(path):
                assert name.split(".")[0] not in IO_MODULES, f"{layer}/{path.name} imports {name}"
    assert checked >= 10


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward: list[str] = []
    for path in _sources():
        own = _layer_of(".".join(("cdomail", *path.relative_to(PACKAGE).with_suffix("").parts)))
        if own is None:
            continue
        for name in _runtime_imports(path):
            target = _layer_of(name)
            if target is not None and target > own:
                upward.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert upward == []


def test_the_rule_reader_sees_relative_and_type_only_imports() -> None:
    # The checker itself: without this, the two tests above could pass by reading nothing.
    source = (
        "from typing import TYPE_CHECKING\n"
        "import ssl\n"
        "from ..pool import Pool\n"
        "from . import _steps\n"
        "def later() -> None:\n"
        "    from ..cli import main\n"
        "if TYPE_CHECKING:\n"
        "    import asyncio\n"
    )
    names = _imports_in(source, "cdomail.session")
    assert names == ["typing", "ssl", "cdomail.pool", "cdomail.session", "cdomail.cli"]
    assert "cdomail.session" in _runtime_imports(PACKAGE / "_async" / "client.py")
    assert _layer_of("cdomail.session._connect") == 1
    assert _layer_of("cdomail._async.pool") == 3
    assert _layer_of("cdomail._async.client") == 2


def test_pools_drive_clients_through_public_names_only() -> None:
    # A pool that reaches into a client's private methods breaks when the client changes:
    # it uses send_prepared / connect / aclose like any caller.
    private: list[str] = []
    for path in (PACKAGE / "_async" / "pool.py", PACKAGE / "_sync" / "pool.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "client" and node.attr.startswith("_")):
                private.append(f"{path.name}:{node.lineno} client.{node.attr}")
    assert private == []


def test_tls_and_auth_policy_is_decided_only_in_the_connect_plan() -> None:
    # The drivers perform steps; the errors that carry a policy decision are raised by the
    # plan alone, and ssl failures are named by the backend, not by a driver.
    decisions = ("TLSRequired", "StartTLSRefused", "AuthenticationRefusedLocally",
                 "requires_tls", "OPPORTUNISTIC", "allow_plaintext_auth", "diagnose_handshake",
                 "helo_fallback")
    for driver in ("_async/client.py", "_sync/client.py", "_async/pool.py", "_sync/pool.py"):
        source = (PACKAGE / driver).read_text()
        found = [name for name in decisions if name in source]
        assert found == [], f"{driver} decides policy itself: {found}"
    plan = (PACKAGE / "session" / "_connect.py").read_text()
    assert all(name in plan for name in decisions[:6])


def test_batch_scheduling_is_decided_only_in_the_batch_plan() -> None:
    # Pipelining windows, BDAT trust, RSET insertion and the verdict rules live in
    # session/_batch_plan.py; a driver that names them has grown its own copy.
    decisions = ("Rset", "MailFrom", "RcptTo", "BDAT_CHUNK", "TRANSACTION_WINDOW", "WRITE_SIZE",
                 "Transaction", "failure_after", "unwritten_end", "envelope_answered",
                 "settle_results", "hand_over", "interrupted_results", "send_bdat",
                 "end_content")
    for driver in ("_async/client.py", "_sync/client.py", "_async/_sending.py",
                   "_sync/_sending.py", "_client_base.py"):
        source = (PACKAGE / driver).read_text()
        found = [name for name in decisions if name in source]
        assert found == [], f"{driver} schedules the batch itself: {found}"
    plan = (PACKAGE / "session" / "_batch_plan.py").read_text()
    missing = [name for name in decisions if name.split(" ")[0] not in plan]
    assert missing == []
