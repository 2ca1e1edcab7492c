"""The orchestrator's configuration for the sandbox: every backend on the model simulator, Redis
and DynamoDB on the sandbox's own. Production configures the orchestrator from the RayService's
serveConfigV2 args (k8s/ray-serve/cato-orchestrator.yaml) or CATO_ORCHESTRATOR_CONFIG; only the
rehearsal builds it from the sandbox's state file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.config import OrchestratorConfig, ServeConfig
from orchestrator.ports import ModelTier

from cato_sandbox.state import SandboxState

# The principal the sandbox's one client key (litellm.key, shared with LiteLLM) is recorded under.
SANDBOX_PRINCIPAL = "sandbox"


# Sized from what one replica on this 2-core machine serves (docs/capacity.md, "Admission"): ~200 sessions a
# second at 500 ms, so ~100-130 requests in flight at saturation; 160 leaves room for slower answers while
# keeping the replica's event loop ahead of its work. At 512 (the product default, for a replica with its
# own cores) 2,000 concurrent sessions sharing these 2 cores with moto, the simulator and the load left the
# replica's loop too slow to accept its connections (docs/performance.md).
SANDBOX_SERVE = {"max_admitted": 160, "max_ongoing_requests": 224}


def read_overrides(state_dir: Path | str) -> dict[str, Any]:
    """`<state_dir>/orchestrator-overrides.json` (what a bench or test sets for the sandbox's orchestrator), or {}."""
    path = Path(state_dir) / "orchestrator-overrides.json"
    return json.loads(path.read_text()) if path.exists() else {}


def sandbox_serve(overrides: dict[str, Any]) -> ServeConfig:
    """The sandbox replica's serve settings: SANDBOX_SERVE under the `serve` of orchestrator-overrides.json."""
    return ServeConfig(**{**SANDBOX_SERVE, **overrides.get("serve", {})})


def sandbox_config(state: SandboxState | dict[str, Any], **overrides: Any) -> OrchestratorConfig:
    """Point every backend at the sandbox's model simulator; Redis and DynamoDB at the sandbox's."""
    urls = state.urls() if isinstance(state, SandboxState) else {c["name"]: c["url"] for c in state.get("components", [])}
    missing = [n for n in ("simulator", "redis", "moto") if n not in urls]
    if missing:
        raise ValueError(f"the sandbox has no {', '.join(missing)}: run `cato-migrate sandbox up`")
    sim = urls["simulator"]
    data: dict[str, Any] = {
        "backends": {
            ModelTier.BEDROCK_HAIKU: {"kind": "bedrock", "model_id": "anthropic.claude-3-haiku-20240307-v1:0", "endpoint_url": sim},
            ModelTier.BEDROCK_SONNET: {"kind": "bedrock", "model_id": "anthropic.claude-3-5-sonnet-20240620-v1:0", "endpoint_url": sim},
            ModelTier.SHADOW_SELF: {"kind": "vllm", "model_id": "cato-shadow-self", "endpoint_url": sim + "/v1"},
        },
        # the DynamoDB layer (global-table replication) when the sandbox runs it, else moto itself
        "redis_url": urls["redis"], "dynamodb_endpoint_url": urls.get("dynamodb", urls["moto"]),
        "drop_params": True,  # as the sandbox's LiteLLM (config/litellm.yaml) does
    }
    from orchestrator.pricing import DEFAULT_PRICE_FILE, read_price_file

    if DEFAULT_PRICE_FILE.exists():  # the same prices `cato-migrate cost` and LiteLLM use
        data["pricing"] = read_price_file(DEFAULT_PRICE_FILE).model_dump(mode="json")
    data.update(overrides)
    return OrchestratorConfig.model_validate(data)
