"""One direction of dependencies: production code never needs the rehearsal. The sandbox may use the
product; the product's core, adapters, edge and orchestrator never import `cato_sandbox`.
Only the composition points pick the sandbox for `local`, lazily: wiring.py and the `sandbox` verbs."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["cato_migrate/core", "cato_migrate/adapters", "cato_migrate/edge", "orchestrator"]


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("package", PRODUCT)
def test_product_code_does_not_import_the_sandbox(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, package
    offenders = {str(f.relative_to(ROOT)): n for f in files for n in _imports(f) if n.startswith("cato_sandbox")}
    assert not offenders, offenders
