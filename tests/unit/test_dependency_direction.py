"""The import contract: dependencies point one way.

- The product never needs the rehearsal: nothing under cato_migrate/ or orchestrator/ imports
  `cato_sandbox`, except the two composition points that pick it for `local`, lazily:
  cato_migrate/wiring.py and the `sandbox` verbs (cato_migrate/cli/sandbox.py).
- core is pure: it imports no cli, adapters, wiring (and so no SDK through them).
- adapters import no cli and no wiring.
- The orchestrator's core imports no Ray and no Serve app: only orchestrator/serve_app.py does.
- Nothing outside tests/ imports tests.

Every import counts, lazy ones inside functions too (ast.walk), so a planted import anywhere fails."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (files, forbidden module prefixes, files allowed to break the rule, why)
CONTRACTS = [
    ("cato_migrate", ("cato_sandbox",), {"cato_migrate/wiring.py", "cato_migrate/cli/sandbox.py"},
     "the product does not import the sandbox"),
    ("orchestrator", ("cato_sandbox", "cato_migrate.cli", "cato_migrate.wiring"), set(),
     "the orchestrator does not import the sandbox or the CLI"),
    ("cato_migrate/core", ("cato_migrate.cli", "cato_migrate.adapters", "cato_migrate.wiring", "cato_sandbox"), set(),
     "core imports no cli, adapters, wiring or sandbox"),
    ("cato_migrate/adapters", ("cato_sandbox", "cato_migrate.cli", "cato_migrate.wiring"), set(),
     "adapters import no sandbox, cli or wiring"),
    ("orchestrator", ("ray", "orchestrator.serve_app"), {"orchestrator/serve_app.py"},
     "the orchestrator's core imports no Ray and no Serve app"),
    ("cato_migrate", ("tests",), set(), "nothing imports tests"),
    ("cato_sandbox", ("tests",), set(), "nothing imports tests"),
    ("orchestrator", ("tests",), set(), "nothing imports tests"),
    ("bench", ("tests",), set(), "nothing imports tests"),
    ("scripts", ("tests",), set(), "nothing imports tests"),
]


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def violations(folder: Path, forbidden: tuple[str, ...], allowed: set[str]) -> dict[str, str]:
    found = {}
    for f in sorted(folder.rglob("*.py")):
        rel = str(f.relative_to(ROOT))
        if rel in allowed:
            continue
        for name in imports(f):
            if any(name == p or name.startswith(p + ".") for p in forbidden):
                found[rel] = name
    return found


@pytest.mark.parametrize("folder,forbidden,allowed,rule", CONTRACTS, ids=[f"{c[0]}: {c[3]}" for c in CONTRACTS])
def test_import_contract(folder, forbidden, allowed, rule):
    files = list((ROOT / folder).rglob("*.py"))
    assert files, folder
    assert violations(ROOT / folder, forbidden, allowed) == {}, rule


def test_relative_imports_stay_inside_their_package():
    # `from ..x import` could reach across a boundary unseen by the contract: none are used.
    rel = [str(f.relative_to(ROOT)) for d in ("cato_migrate", "cato_sandbox", "orchestrator")
           for f in (ROOT / d).rglob("*.py")
           if any(isinstance(n, ast.ImportFrom) and n.level > 1 for n in ast.walk(ast.parse(f.read_text())))]
    assert rel == []


@pytest.mark.parametrize("planted,folder,forbidden", [
    ("from cato_sandbox.manager import load_sandbox_state\n", "cato_migrate/core", ("cato_sandbox",)),
    ("def f():\n    import cato_migrate.wiring\n", "cato_migrate/core", ("cato_migrate.wiring",)),
    ("import ray.serve\n", "orchestrator", ("ray",)),
    ("from tests.fakes import X\n", "cato_sandbox", ("tests",)),
])
def test_a_planted_import_breaks_the_contract(tmp_path, monkeypatch, planted, folder, forbidden):
    pkg = tmp_path / folder
    pkg.mkdir(parents=True)
    (pkg / "planted.py").write_text(planted)
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert list(violations(pkg, forbidden, set())) == [f"{folder}/planted.py"]
