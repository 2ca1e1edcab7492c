"""Fakes for unit tests only. Kept honest by the same flows running against the sandbox."""
from __future__ import annotations

from cato_migrate.core.context import RunContext
from cato_migrate.core.loader import load_runbook
from cato_migrate.errors import Conflict
from cato_migrate.ports import Deployment, FlagSpec
from cato_migrate.settings import Settings


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.001)


class FakeFlag:
    """In-memory AppConfig: deployments progress on the injected clock (1 minute = 60 s)."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.versions: dict[str, FlagSpec] = {}
        self.strategies: dict[str, tuple[float, float]] = {}
        self.deps: list[dict] = []
        self.calls: list[str] = []
        self.serve_override: int | None = None  # plant a fault: served value stuck

    def ensure_setup(self) -> None:
        self.calls.append("ensure_setup")

    def ensure_strategy(self, name, deployment_minutes, bake_minutes, growth_factor) -> str:
        self.strategies.setdefault(name, (deployment_minutes, bake_minutes))
        return name

    def create_version(self, spec: FlagSpec, description: str) -> str:
        v = str(len(self.versions) + 1)
        self.versions[v] = spec
        self.calls.append(f"create_version:{spec.percentage}")
        return v

    def _state(self, d: dict) -> str:
        if d["stopped"]:
            return "ROLLED_BACK"
        dep_m, bake_m = self.strategies[d["strategy"]]
        el = self.clock.now() - d["start"]
        if el < dep_m * 60:
            return "DEPLOYING"
        if el < (dep_m + bake_m) * 60:
            return "BAKING"
        return "COMPLETE"

    def _dep(self, d: dict) -> Deployment:
        return Deployment(number=d["n"], state=self._state(d), version=d["version"], strategy=d["strategy"],
                          percentage_complete=100.0, started_at=d["start"])

    def start_deployment(self, version, strategy, description) -> Deployment:
        if self.deps and self._state(self.deps[-1]) in ("DEPLOYING", "BAKING"):
            raise Conflict("deployment in progress")
        d = {"n": len(self.deps) + 1, "version": version, "strategy": strategy, "start": self.clock.now(), "stopped": False}
        self.deps.append(d)
        self.calls.append(f"start_deployment:{version}")
        return self._dep(d)

    def get_deployment(self, number: int) -> Deployment:
        return self._dep(self.deps[number - 1])

    def latest_deployment(self):
        return self._dep(self.deps[-1]) if self.deps else None

    def stop_deployment(self, number: int) -> Deployment:
        self.deps[number - 1]["stopped"] = True
        self.calls.append(f"stop_deployment:{number}")
        return self._dep(self.deps[number - 1])

    def configured(self, dep: Deployment) -> FlagSpec:
        return self.versions[dep.version]

    def read_served(self):
        done = [d for d in self.deps if self._state(d) in ("COMPLETE", "BAKING")]
        if not done:
            return None, None
        spec = self.versions[done[-1]["version"]]
        if self.serve_override is not None:
            spec = FlagSpec(enabled=True, percentage=self.serve_override)
        return spec, done[-1]["version"]


class FakeServices:
    def __init__(self, flag):
        self.flag = flag

    def traffic_flag(self):
        return self.flag

    def orchestrator_api(self):
        from cato_migrate.errors import BadInput

        raise BadInput("no orchestrator in unit tests")

    def fault_injector(self):
        from cato_migrate.errors import BadInput

        raise BadInput("no simulator in unit tests")


def make_ctx(store, clock=None, flag=None, force=False, reason="", env="local") -> RunContext:
    clock = clock or FakeClock()
    flag = flag or FakeFlag(clock)
    settings = Settings(env=env, canary_deploy_minutes=2, canary_bake_minutes=1)
    return RunContext(env=env, actor="tester@host", run_id="r1", store=store, clock=clock,
                      services=FakeServices(flag), runbook=load_runbook(), settings=settings,
                      force=force, reason=reason)
