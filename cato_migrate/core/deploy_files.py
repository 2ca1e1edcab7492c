"""The deployment files decommission touches: archiving LiteLLM's config, scanning for LiteLLM.

`deploy_root` is the checkout of the deployment files (k8s/ manifests, config/, dependency
files). Archived files (under an `archive/` folder or named `*.deprecated`) are history, not
dependencies, and are never reported.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from cato_migrate.errors import BadInput

LITELLM = re.compile(r"litellm", re.I)
# `litellm`, `litellm[proxy]==1.x`, "litellm>=1" in a requirements line or a pyproject list
REQUIREMENT = re.compile(r"""^\s*["']?litellm(\[[^\]]*\])?\s*([<>=!~;"',]|$)""", re.I)
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
DEPENDENCY_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "poetry.lock", "uv.lock")
SKIP_DIRS = {"archive", ".git", ".venv", ".venv-litellm", "node_modules", "__pycache__"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str  # manifest | config | dependency
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.text}"


def _archived(rel: Path) -> bool:
    return any(part in SKIP_DIRS for part in rel.parts[:-1]) or rel.name.endswith(".deprecated")


def _files(root: Path) -> Iterator[tuple[Path, Path]]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not _archived(rel):
            yield path, rel


def _is_dependency_file(rel: Path) -> bool:
    name = rel.name
    return name in DEPENDENCY_FILES or (name.startswith("requirements") and name.endswith((".txt", ".in")))


def scan_litellm(root: Path) -> list[Finding]:
    """Every live reference to LiteLLM in manifests (k8s/), configuration (config/) and dependency files."""
    root = Path(root)
    findings: list[Finding] = []
    for path, rel in _files(root):
        top = rel.parts[0] if len(rel.parts) > 1 else ""
        if _is_dependency_file(rel):
            kind, match = "dependency", REQUIREMENT.search
        elif top == "k8s" and path.suffix in MANIFEST_SUFFIXES:
            kind, match = "manifest", LITELLM.search
        elif top == "config":
            kind, match = "config", LITELLM.search
            if LITELLM.search(rel.name):
                findings.append(Finding(str(rel), 0, kind, "LiteLLM configuration file"))
                continue
        else:
            continue
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError as exc:
            raise BadInput(f"cannot read {path}: {exc}") from exc
        for n, line in enumerate(lines, 1):
            if line.lstrip().startswith("#"):  # a comment that mentions LiteLLM is history, not a dependency
                continue
            if match(line):
                findings.append(Finding(str(rel), n, kind, line.strip()[:160]))
    return findings


def archive(root: Path, path: str, archive_to: str) -> dict[str, Any]:
    """Move `path` to `archive_to` (both under root). Idempotent; never overwrites a different archive."""
    root = Path(root)
    src, dst = (root / path), (root / archive_to)
    for p in (src, dst):
        if root.resolve() not in p.resolve().parents:
            raise BadInput(f"{p} is outside the deployment root {root}")
    if not src.exists():
        if dst.exists():
            return {"archived": str(dst), "changed": False}
        raise BadInput(f"nothing to archive: neither {src} nor {dst} exists",
                       hint="check deploy_root in cato-migrate.toml (the deployment files' checkout)")
    if dst.exists():
        if src.is_file() and dst.is_file() and src.read_bytes() == dst.read_bytes():
            src.unlink()
            return {"archived": str(dst), "changed": True}
        raise BadInput(f"{dst} already exists and differs from {src}; nothing was changed",
                       hint="move the older archive aside, then run again")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dst))
    return {"archived": str(dst), "changed": True}
