"""Check kinds whose measurement comes with later work. They never pass."""
from __future__ import annotations

from cato_migrate.core.kinds import CheckKind, register_check
from cato_migrate.steps.planned import AnyParams

_PLANNED = {
    "complaints": "user complaints signal (needs a support-ticket source)",
}

for _name, _what in _PLANNED.items():
    register_check(type(f"Planned_{_name}", (CheckKind,), {
        "name": _name, "Params": AnyParams, "implemented": False, "planned_for": _what}))
