"""The sandbox drills' I/O: send user traffic through the gateway, plant faults on one stack.

`send_traffic` sends OpenAI-style chat requests to the sandbox gateway from N sticky users
(`drill-user-<i>`, the sandbox's client key as bearer), open loop at a fixed rate, bounded in
count and time; what each stack served is summarized by core/drill.py.

`plant_fault` plants a fault on ONE stack. Both stacks end at the model simulator, through
different routes: LiteLLM calls its OpenAI-compatible API with the model ids of
config/litellm.yaml; the orchestrator calls the Bedrock route (and the OpenAI route for its vLLM
tier's model, SageMaker for a SageMaker tier) as its sandbox config says. So the fault is a
per-route fault in the simulator (`route_faults`, its admin API) on every route the stack uses:
the orchestrator falls back between tiers, and a fault on one tier would be absorbed. The
simulator answers the failing calls with its 500 error, which the stacks turn into 5xx answers
(LiteLLM: 500; the orchestrator: 503 no tier available, or 502), so the gateway counts them
against that stack only.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from cato_migrate.core.drill import DrillSample, drill_user, plan_route_faults
from cato_migrate.errors import BadInput, ExternalError
from cato_sandbox.components import LITELLM_CONFIG
from cato_sandbox.manager import load_sandbox_state

_QUESTIONS = ("What is the capital of France?", "Summarize the plot of Hamlet in one line.",
              "How many legs does a spider have?", "Give me a synonym for quick.",
              "What year did the Berlin Wall fall?", "Name a prime number above 50.",
              "Translate 'good morning' into Spanish.", "What does HTTP stand for?")


def _urls(state_dir: Path) -> dict[str, str]:
    state = load_sandbox_state(state_dir)
    if state is None:
        raise BadInput(f"no sandbox is recorded in {state_dir}", hint="run: cato-migrate sandbox up")
    return {c["name"]: c["url"] for c in state["components"] if c.get("url")}


def _need(urls: dict[str, str], name: str) -> str:
    if name not in urls:
        raise BadInput(f"the sandbox has no {name} running", hint="run: cato-migrate sandbox up")
    return urls[name]


# --- traffic ----------------------------------------------------------------------------------

def send_traffic(state_dir: Path, users: int, rps: float, seconds: float, total: int,
                 timeout_s: float = 30.0, max_in_flight: int = 64) -> tuple[list[DrillSample], float]:
    """Send `total` requests at `rps` from `users` sticky users; (samples, elapsed seconds).

    Nothing is sent after `seconds`; requests still in flight get `timeout_s` at most."""
    gateway = _need(_urls(state_dir), "gateway")
    try:
        key = (Path(state_dir) / "litellm.key").read_text().strip()
    except OSError as exc:
        raise BadInput(f"the sandbox client key is unreadable: {exc}", hint="run: cato-migrate sandbox up") from None
    return asyncio.run(_send(gateway, key, users, rps, seconds, total, timeout_s, max_in_flight))


async def _send(gateway: str, key: str, users: int, rps: float, seconds: float, total: int,
                timeout_s: float, max_in_flight: int) -> tuple[list[DrillSample], float]:
    import httpx

    run = uuid.uuid4().hex[:8]  # in every prompt: each request is new (no cache hit), so faults show
    samples: list[DrillSample] = []
    gate = asyncio.Semaphore(max_in_flight)
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(base_url=gateway, timeout=timeout_s, limits=limits, trust_env=False,
                                 headers={"Authorization": f"Bearer {key}"}) as client:

        async def one(k: int) -> None:
            user = drill_user(k % users)
            body = {"model": "claude-3-haiku", "user": user, "max_tokens": 32, "messages": [
                {"role": "user", "content": f"{_QUESTIONS[k % len(_QUESTIONS)]} (drill {run} #{k})"}]}
            async with gate:
                t0 = time.monotonic()
                try:
                    r = await client.post("/v1/chat/completions", json=body)
                    samples.append(DrillSample(user=user, stack=r.headers.get("x-cato-stack"), status=r.status_code,
                                               latency_ms=(time.monotonic() - t0) * 1000))
                except httpx.HTTPError:
                    samples.append(DrillSample(user=user, stack=None, status=None,
                                               latency_ms=(time.monotonic() - t0) * 1000))

        start = time.monotonic()
        tasks = []
        for k in range(total):
            due = start + k / rps
            if due - start >= seconds:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(one(k)))
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s + 5)
        return samples, time.monotonic() - start


# --- faults -----------------------------------------------------------------------------------

def stack_selectors(state_dir: Path) -> dict[str, list[str]]:
    """The simulator routes each stack calls, as `route_faults` selectors (api/model)."""
    import yaml

    from cato_sandbox.orchestrator_config import sandbox_config

    legacy = []
    for entry in (yaml.safe_load(LITELLM_CONFIG.read_text()) or {}).get("model_list", []):
        model = str(entry.get("litellm_params", {}).get("model", ""))
        provider, _, name = model.partition("/")
        if provider == "openai" and name:  # LiteLLM's openai/ provider: the simulator's OpenAI route
            legacy.append(f"openai/{name}")
    state = load_sandbox_state(state_dir) or {"components": []}
    # for_sandbox wants redis and moto too; only the backends are read here
    comps = list(state["components"]) + [{"name": n, "url": "http://127.0.0.1:1"} for n in ("redis", "moto")
                                         if n not in {c["name"] for c in state["components"]}]
    config = sandbox_config({"components": comps})
    api = {"bedrock": "bedrock", "vllm": "openai", "sagemaker": "sagemaker"}
    new = sorted({f"{api[b.kind]}/{b.model_id}" for b in config.backends.values()})
    return {"legacy": sorted(set(legacy)), "new": new}


def _admin(sim: str, method: str, body: dict | None = None) -> dict:
    import httpx

    try:
        r = httpx.request(method, sim.rstrip("/") + "/admin/config", json=body, timeout=10, trust_env=False)
    except httpx.HTTPError as exc:
        raise ExternalError(f"the model simulator at {sim} is unreachable: {exc}",
                            hint="cato-migrate sandbox status shows whether it runs") from None
    if r.status_code >= 300:
        raise ExternalError(f"the model simulator refused {method} /admin/config: HTTP {r.status_code} {r.text[:200]}")
    return r.json()


def plant_fault(state_dir: Path, stack: str | None, error_rate: float | None, latency_ms: float | None,
                clear: bool) -> dict:
    """Set the simulator's route faults for `stack` (validated by the caller); read back and return them."""
    sim = _need(_urls(state_dir), "simulator")
    selectors = stack_selectors(state_dir)
    current = _admin(sim, "GET").get("route_faults", {})
    wanted = plan_route_faults(current, selectors, stack, error_rate, latency_ms, clear)
    served = _admin(sim, "PUT", {"route_faults": wanted}).get("route_faults", {})
    if served != wanted:
        raise ExternalError(f"the simulator reports route faults {served}, not the {wanted} planted",
                            hint="run `cato-migrate sandbox fault --clear` and try again")
    return {"stack": stack, "cleared": clear, "route_faults": served, "routes": selectors,
            "simulator": sim}
