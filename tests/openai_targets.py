"""The two gateways a client can point the official `openai` SDK at, both in front of the same
model simulator: the legacy LiteLLM proxy (the sandbox's `litellm` component, config/litellm.yaml)
and the orchestrator's Serve app (tests/orch_http.py). Same key, same model names: a client
changes only its base URL. Tests only.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import httpx
import openai

TARGETS = ("litellm", "orchestrator")


@dataclass
class Target:
    name: str
    url: str
    key: str
    _clients: list = field(default_factory=list, repr=False)

    def client(self, api_key: str | None = None) -> openai.OpenAI:
        """The SDK as a client configures it: base URL, key, no retries (a retry would hide a status)."""
        sdk = openai.OpenAI(base_url=self.url + "/v1", api_key=api_key or self.key, max_retries=0, timeout=60,
                            http_client=openai.DefaultHttpxClient(trust_env=False))
        self._clients.append(sdk)
        return sdk

    def post_raw(self, path: str, *, body: bytes, key: str | None = None) -> httpx.Response:
        """A request the SDK would not send (no key, a JSON array body)."""
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        with httpx.Client(base_url=self.url, timeout=60, trust_env=False) as http:
            return http.post(path, content=body, headers=headers)

    def close(self) -> None:
        for sdk in self._clients:
            sdk.close()


def orchestrator_config(state: dict, key: str):
    """The orchestrator as a drop-in for the sandbox's LiteLLM: LiteLLM's key, its drop_params."""
    from cato_sandbox.orchestrator_config import sandbox_config

    return sandbox_config(
        state, api_keys=[{"principal": "conformance", "sha256": hashlib.sha256(key.encode()).hexdigest()}],
        drop_params=True)


def error_of(response: httpx.Response) -> dict | None:
    """The `error` object of an error body, or None when the body is not OpenAI's error shape."""
    try:
        doc = response.json()
    except json.JSONDecodeError:
        return None
    return doc.get("error") if isinstance(doc, dict) and isinstance(doc.get("error"), dict) else None
