"""Check kinds whose measurement comes with later work. They never pass."""
from __future__ import annotations

from cato_migrate.core.kinds import CheckKind, register_check
from cato_migrate.steps.planned import AnyParams

_PLANNED = {
    "sagemaker_hidden_states": "invoke the Shadow Self endpoint and check hidden states (SageMaker work)",
    "nli_accuracy": "labelled probe set through the NLI endpoint (SageMaker work)",
    "opensearch_episodic": "index then search back a probe (data stores work)",
    "consolidation_facts": "probe interaction whose facts appear (data stores work)",
    "dax_read_latency": "read latency through DAX (data stores work)",
    "complaints": "user complaints signal (needs a support-ticket source)",
}

for _name, _what in _PLANNED.items():
    register_check(type(f"Planned_{_name}", (CheckKind,), {
        "name": _name, "Params": AnyParams, "implemented": False, "planned_for": _what}))
