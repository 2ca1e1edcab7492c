"""Check kinds whose measurement comes with later work. They never pass."""
from __future__ import annotations

from cato_migrate.core.kinds import CheckKind, register_check
from cato_migrate.steps.planned import AnyParams

_PLANNED = {
    "opensearch_episodic": "index then search back a probe (data stores work)",
    "consolidation_facts": "probe interaction whose facts appear (data stores work)",
    "dax_read_latency": "read latency through DAX (data stores work)",
    "complaints": "user complaints signal (needs a support-ticket source)",
}

for _name, _what in _PLANNED.items():
    register_check(type(f"Planned_{_name}", (CheckKind,), {
        "name": _name, "Params": AnyParams, "implemented": False, "planned_for": _what}))
