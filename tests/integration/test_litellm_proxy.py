"""The legacy stack for real: the LiteLLM proxy from .venv-litellm, started as the sandbox's
`litellm` component with config/litellm.yaml, answering from the model simulator."""
from __future__ import annotations

import importlib.util
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cato_sandbox.components import LITELLM_VENV
from cato_sandbox.manager import SandboxSettings, load_sandbox_state, sandbox_down, sandbox_up

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (LITELLM_VENV / "bin" / "litellm").exists(),
                       reason=f"the LiteLLM proxy is not installed in {LITELLM_VENV}: run `make setup`"),
]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("litellm") / ".cato-migrate"
    settings = SandboxSettings(state_dir=state_dir, components=["litellm"])
    up = sandbox_up(settings)
    try:
        assert [c["name"] for c in up["components"]] == ["simulator", "litellm"]
        urls = {c["name"]: c["url"] for c in load_sandbox_state(state_dir)["components"]}
        yield urls["litellm"], (state_dir / "litellm.key").read_text().strip(), state_dir
    finally:
        sandbox_down(settings)


def _post(url: str, body: dict, key: str | None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers=headers, method="POST")
    try:
        with _OPENER.open(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_a_real_chat_completion_through_litellm_to_the_simulator(proxy):
    url, key, _ = proxy
    status, body = _post(url, {"model": "claude-3-haiku", "user": "u1",
                               "messages": [{"role": "user", "content": "What is 2+2?"}]}, key)
    assert status == 200, body
    doc = json.loads(body)
    assert doc["model"] == "claude-3-haiku"  # the alias clients use
    assert doc["choices"][0]["message"]["content"] == "The answer is 4."  # the simulator's answer
    assert doc["usage"]["completion_tokens"] > 0


def test_streaming_and_the_sonnet_alias(proxy):
    url, key, _ = proxy
    status, body = _post(url, {"model": "claude-3-5-sonnet", "stream": True,
                               "messages": [{"role": "user", "content": "What is 2+2?"}]}, key)
    assert status == 200
    events = [e.removeprefix("data: ") for e in body.decode().split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join((json.loads(e)["choices"][0]["delta"].get("content") or "")
                   for e in events[:-1] if json.loads(e).get("choices"))
    assert text == "The answer is 4."


def test_it_refuses_requests_without_its_master_key(proxy):
    url, key, state_dir = proxy
    status, _ = _post(url, {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hi"}]},
                      None)
    assert status != 200
    # the key lives in a 0600 file, never in the recorded command line
    assert (state_dir / "litellm.key").stat().st_mode & 0o077 == 0
    rec = next(c for c in load_sandbox_state(state_dir)["components"] if c["name"] == "litellm")
    assert key not in json.dumps(rec)


def test_the_products_environment_has_no_litellm():
    # Phase 4 "no LiteLLM dependencies": the proxy lives in its own venv only
    assert importlib.util.find_spec("litellm") is None
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    requirements = project.get("dependencies", []) + [
        r for extra in project.get("optional-dependencies", {}).values() for r in extra]
    assert requirements and not [r for r in requirements if "litellm" in r.lower()]
