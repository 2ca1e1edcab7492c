"""The sandbox's launcher for the traffic edge (cato_migrate/edge/gateway.py).

    python -m cato_sandbox.gateway --host 127.0.0.1 --port PORT --state-dir DIR \
        --appconfig-url URL [--application cato --environment local --profile orchestration
        --flag use_new_orchestrator --region us-east-1]

The edge itself takes fixed stack URLs; on the sandbox the stacks are processes whose ports are
recorded in the state file, and the orchestrator is started on demand (and moves port when it is
scaled to 0 and back). So this plugs `StateFileUpstreams` into the same edge app: each stack's URL
is read from <state-dir>/sandbox.json by component name (`litellm`, `orchestrator`), re-read
whenever the file changes, and the sandbox's client key (<state-dir>/litellm.key) is sent to both
stacks as the bearer. The flag is read from the sandbox's appconfigdata layer.

Test-only: CATO_GATEWAY_NEW_COMPONENT names another component to stand in for the new stack
(e.g. the model simulator's OpenAI API), so the split is testable without starting Ray.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from cato_migrate.edge.gateway import add_flag_args, serve
from cato_sandbox.state import peek_state, state_path


class StateFileUpstreams:
    """Stack -> base URL, from the sandbox state file (re-read when it changes)."""

    def __init__(self, state_dir: Path, components: dict[str, str]):
        self.state_dir, self.components = Path(state_dir), components
        self._stamp: tuple[int, int] | None = None
        self._urls: dict[str, str] = {}

    def _refresh(self) -> None:
        try:
            st = state_path(self.state_dir).stat()
        except FileNotFoundError:
            self._urls, self._stamp = {}, None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        state = peek_state(self.state_dir)
        if state is not None:  # None: mid-write or unreadable; keep what was read last, the next request retries
            self._urls, self._stamp = state.urls(), stamp

    def component(self, stack: str) -> str:
        return self.components[stack]

    def url(self, stack: str) -> str | None:
        self._refresh()
        return self._urls.get(self.components[stack])

    def headers(self, stack: str) -> dict[str, str]:
        # Both stacks take the same client key (the orchestrator accepts LiteLLM's keys), so a
        # client moved by the flag changes nothing.
        key = self.state_dir / "litellm.key"
        try:
            return {"Authorization": f"Bearer {key.read_text().strip()}"}
        except OSError:
            return {}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cato_sandbox.gateway",
                                 description="The traffic edge on the sandbox (stacks from the state file).")
    add_flag_args(ap)
    ap.add_argument("--state-dir", required=True, help="sandbox state dir (sandbox.json names the stacks)")
    args = ap.parse_args(argv)
    components = {"legacy": "litellm",
                  "new": os.environ.get("CATO_GATEWAY_NEW_COMPONENT") or "orchestrator"}
    return serve(StateFileUpstreams(Path(args.state_dir), components), args)


if __name__ == "__main__":
    raise SystemExit(main())
