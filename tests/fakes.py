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

    def monotonic(self) -> float:
        # Fake time passes for both clocks alike; a skewed wall clock is a test's own wrapper.
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
        self.profile = "orchestration"
        self.other_profile_busy: Deployment | None = None  # plant: another profile deploys in this environment
        self.alarms: dict[str, str] = {}  # the environment's alarm monitors: name -> state (plant with set_alarm)

    def set_alarm(self, name: str, state: str = "ALARM") -> None:
        """Plant a monitor's alarm state; as AppConfig, ALARM or INSUFFICIENT_DATA rolls back a
        DEPLOYING or BAKING deployment when its state is next looked at."""
        self.alarms[name] = state

    def ensure_monitors(self) -> dict:
        self.calls.append("ensure_monitors")
        return {"attached": list(self.alarms), "missing": [], "problem": None}

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
        state = "DEPLOYING" if el < dep_m * 60 else "BAKING" if el < (dep_m + bake_m) * 60 else "COMPLETE"
        fired = [n for n, s in self.alarms.items() if s in ("ALARM", "INSUFFICIENT_DATA")]
        if state != "COMPLETE" and fired:
            d.update(stopped=True, by="CLOUDWATCH_ALARM", alarm=fired[0])
            return "ROLLED_BACK"
        return state

    def _dep(self, d: dict) -> Deployment:
        state = self._state(d)
        alarm = d.get("alarm", "")
        return Deployment(number=d["n"], state=state, version=d["version"], strategy=d["strategy"],
                          percentage_complete=100.0, started_at=d["start"], profile=self.profile,
                          rollback_by=d.get("by", "USER") if state == "ROLLED_BACK" else "", rollback_alarm=alarm,
                          rollback_reason=f"Rollback initiated by CloudWatch alarm {alarm} (ALARM)" if alarm else "")

    def start_deployment(self, version, strategy, description) -> Deployment:
        if (self.deps and self._state(self.deps[-1]) in ("DEPLOYING", "BAKING")) or self.other_profile_busy:
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

    def blocking_deployment(self):
        if self.other_profile_busy is not None:
            return self.other_profile_busy
        latest = self.latest_deployment()
        return latest if latest and latest.state in ("DEPLOYING", "BAKING") else None

    def describe_setup(self) -> dict:
        return {"application": True, "environment": True, "profile": True, "strategies": list(self.strategies),
                "monitors": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{n}" for n in self.alarms],
                "region": "us-east-1"}

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
    def __init__(self, flag, workloads=None, gateway=None, metrics=None, settings=None):
        self.flag = flag
        self.settings = settings or Settings()
        self._workloads = workloads
        self._gateway = gateway
        self._metrics = metrics  # a MetricsSource (tests/fake_metrics.py); None: none configured

    def metrics_source(self):
        return self._metrics

    def workloads(self):
        if self._workloads is None:
            from cato_migrate.errors import BadInput

            raise BadInput("no workloads in this unit test")
        return self._workloads

    def gateway_metrics(self):
        return self._gateway

    def traffic_flag(self):
        return self.flag

    def environment(self):
        from cato_migrate.wiring import environment_profile  # the profile wiring picks for the env

        return environment_profile(self.settings)

    def orchestrator_api(self):
        from cato_migrate.errors import BadInput

        raise BadInput("no orchestrator in unit tests")

    def fault_injector(self):
        from cato_migrate.errors import BadInput

        raise BadInput("no simulator in unit tests")


def make_ctx(store, clock=None, flag=None, force=False, reason="", env="local", workloads=None, gateway=None,
             metrics=None, **settings_kw) -> RunContext:
    clock = clock or FakeClock()
    flag = flag or FakeFlag(clock)
    settings = Settings(env=env, canary_deploy_minutes=2, canary_bake_minutes=1, **settings_kw)
    return RunContext(env=env, actor="tester@host", run_id="r1", store=store, clock=clock,
                      services=FakeServices(flag, workloads, gateway, metrics, settings), runbook=load_runbook(), settings=settings,
                      force=force, reason=reason)


class FakeWorkloads:
    """In-memory workloads: a scale becomes ready after `ready_after` seconds of the fake clock."""

    def __init__(self, clock: FakeClock, ready_after: float = 5.0):
        self.clock = clock
        self.ready_after = ready_after
        self.items: dict[str, dict] = {}
        self.calls: list[str] = []
        self.never_ready: set[str] = set()  # plant a fault: pods never become ready

    def add(self, name, replicas, kind="Deployment"):
        self.items[name] = {"kind": kind, "desired": replicas, "ready": replicas, "at": self.clock.now(), "from": replicas}

    def _ready(self, w) -> int:
        if self.clock.now() - w["at"] >= self.ready_after:
            return w["desired"]
        return min(w["from"], w["desired"]) if w["desired"] else w["from"]

    def status(self, name, namespace):
        from cato_migrate.ports import WorkloadStatus

        w = self.items.get(name)
        if w is None:
            return WorkloadStatus(name=name, namespace=namespace, kind="Deployment", exists=False)
        ready = 0 if (name in self.never_ready and w["desired"]) else self._ready(w)
        return WorkloadStatus(name=name, namespace=namespace, kind=w["kind"], exists=True, desired=w["desired"], ready=ready)

    def scale(self, name, namespace, replicas):
        from cato_migrate.errors import NotFound

        if name not in self.items:
            raise NotFound(f"{namespace}/{name} not found")
        w = self.items[name]
        w.update({"from": self._ready(w), "desired": replicas, "at": self.clock.now()})
        self.calls.append(f"scale:{name}:{replicas}")
        return self.status(name, namespace)

    def wait_ready(self, name, namespace, timeout_s):
        from cato_migrate.errors import ExternalError, NotFound

        deadline = self.clock.now() + timeout_s
        while True:
            st = self.status(name, namespace)
            if not st.exists:  # as the Kubernetes adapter: nothing to wait for (test_workloads_contract)
                raise NotFound(f"{namespace}/{name} does not exist: nothing to wait for")
            if st.ready == st.desired:
                return st
            if self.clock.now() >= deadline:
                raise ExternalError(f"{name} not ready after {timeout_s}s ({st.ready}/{st.desired})")
            self.clock.sleep(1.0)

    def delete(self, name, namespace):
        self.calls.append(f"delete:{name}")
        return self.items.pop(name, None) is not None


class FakeGateway:
    """Gateway counters driven by a script: each traffic() call pops the next in-flight value."""

    def __init__(self, in_flight_new=(0,)):
        self.in_flight = list(in_flight_new)
        self.served_new = 0
        self.reads = 0

    def traffic(self):
        from cato_migrate.ports import StackTraffic

        self.reads += 1
        n = self.in_flight.pop(0) if len(self.in_flight) > 1 else self.in_flight[0]
        if n:
            self.served_new += 1
        return StackTraffic(in_flight_legacy=0, in_flight_new=n, served_legacy=0, served_new=self.served_new)


class FakeEdge(FakeGateway):
    """A gateway that routes probe users by its own (possibly stale) percentage."""

    def __init__(self, percentage: int, status: int = 200):
        super().__init__()
        self.percentage = percentage
        self.status = status
        self.probed = {"served_legacy": 0, "served_new": 0, "errors_legacy": 0, "errors_new": 0}

    def probe(self, user, model="claude-3-haiku"):
        from cato_migrate.core.bucketing import pick_stack

        stack = pick_stack(user, self.percentage)
        # counted as the edge counts a request (tests/integration/test_gateway_metrics_contract.py)
        self.probed[f"{'errors' if self.status >= 500 else 'served'}_{stack}"] += 1
        return stack, self.status

    def traffic(self):
        t = super().traffic()
        return t.model_copy(update={k: getattr(t, k) + n for k, n in self.probed.items()})
