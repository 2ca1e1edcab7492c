"""Services.metrics_source(): which MetricsSource serves, and that it is kept per Services; the
sandbox's prometheus component (config, file_sd targets, prerequisite); the Grafana dashboard."""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from cato_migrate.adapters.gateway_window import GatewayWindow
from cato_migrate.adapters.prometheus_metrics import PrometheusMetrics
from cato_sandbox import prometheus_server
from cato_sandbox.components import REGISTRY, order_components
from cato_migrate.settings import Settings
from cato_migrate.wiring import Services

ROOT = Path(__file__).resolve().parents[2]


def _sandbox(work: Path, **urls: str) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "sandbox.json").write_text(json.dumps(
        {"version": 1, "complete": True, "components": [{"name": n, "url": u} for n, u in urls.items()]}))


def test_prometheus_url_wins_and_is_kept(tmp_path):
    s = Settings(env="staging", work_dir=tmp_path, prometheus_url="http://prom.internal:9090/",
                 gateway_url="http://gw:8080")
    services = Services(s)
    src = services.metrics_source()
    assert isinstance(src, PrometheusMetrics) and src.describe() == "prometheus http://prom.internal:9090"
    assert services.metrics_source() is src


def test_gateway_scrape_is_the_fallback_and_keeps_its_history(tmp_path):
    services = Services(Settings(env="production", work_dir=tmp_path, gateway_url="http://gw:8080"))
    src = services.metrics_source()
    assert isinstance(src, GatewayWindow) and "no Prometheus configured" in src.describe()
    assert services.metrics_source() is src        # one instance: its scrape history survives


def test_nothing_to_measure_with_is_none(tmp_path):
    assert Services(Settings(env="staging", work_dir=tmp_path)).metrics_source() is None
    assert Services(Settings(env="local", work_dir=tmp_path)).metrics_source() is None  # no sandbox


def test_local_uses_the_sandboxs_prometheus_else_its_gateway(tmp_path):
    _sandbox(tmp_path / "a", gateway="http://127.0.0.1:4001", prometheus="http://127.0.0.1:4002")
    src = Services(Settings(env="local", work_dir=tmp_path / "a")).metrics_source()
    assert isinstance(src, PrometheusMetrics) and src.url == "http://127.0.0.1:4002"
    _sandbox(tmp_path / "b", gateway="http://127.0.0.1:4001")
    src = Services(Settings(env="local", work_dir=tmp_path / "b")).metrics_source()
    assert isinstance(src, GatewayWindow) and src.scrape.url == "http://127.0.0.1:4001/metrics"


# -- the sandbox's prometheus ------------------------------------------------------------------

def test_prometheus_is_started_by_default_after_the_gateway():
    names = [c.name for c in order_components(REGISTRY)]
    assert "prometheus" in names and names.index("prometheus") > names.index("gateway")
    assert [c.name for c in order_components(REGISTRY, ["moto", "appconfig"])] == ["moto", "appconfig"]


def test_missing_prometheus_binary_says_how_to_install(monkeypatch):
    monkeypatch.setattr(prometheus_server.shutil, "which", lambda name: None)
    comp = next(c for c in REGISTRY if c.name == "prometheus")
    msg = comp.prerequisite()
    assert msg and "apt-get install -y prometheus" in msg and "make setup" in msg


def test_generated_config_scrapes_every_second_with_the_rules(tmp_path):
    cfg = yaml.safe_load(prometheus_server.write_config(tmp_path / "prometheus").read_text())
    assert cfg["global"]["scrape_interval"] == "1s" and cfg["global"]["evaluation_interval"] == "1s"
    assert cfg["rule_files"] == [str(ROOT / "deploy" / "prometheus" / "cato-canary-rules.yml")]
    jobs = {j["job_name"]: j["file_sd_configs"][0]["files"][0] for j in cfg["scrape_configs"]}
    assert set(jobs) == {"cato-gateway", "cato-orchestrator"}
    assert (tmp_path / "prometheus" / "data").is_dir()


def test_targets_follow_the_sandbox_record(tmp_path):
    prometheus_server.write_config(tmp_path / "prometheus")
    targets = tmp_path / "prometheus" / "targets"
    state = {"components": [{"name": "gateway", "url": "http://127.0.0.1:4100"}]}
    prometheus_server.write_targets(tmp_path, state)
    assert json.loads((targets / "cato-gateway.json").read_text())[0]["targets"] == ["127.0.0.1:4100"]
    assert json.loads((targets / "cato-orchestrator.json").read_text()) == []   # not installed yet
    state["components"] = [{"name": "gateway", "url": "http://127.0.0.1:4200"},
                           {"name": "orchestrator", "url": "http://127.0.0.1:4300"}]
    prometheus_server.write_targets(tmp_path, state)                             # scaled back: new port
    assert json.loads((targets / "cato-gateway.json").read_text())[0]["targets"] == ["127.0.0.1:4200"]
    assert json.loads((targets / "cato-orchestrator.json").read_text())[0]["targets"] == ["127.0.0.1:4300"]
    prometheus_server.write_targets(tmp_path / "elsewhere", state)               # no prometheus: no-op
    assert not (tmp_path / "elsewhere").exists()


# -- the Grafana dashboard ------------------------------------------------------------------------

def _contract_metric_names() -> set[str]:
    """Series the ports.py contract names (a histogram's _bucket brings its _sum and _count), plus
    the series runbook.yaml's `metrics:` PromQL reads (the orchestrator's cache counter)."""
    ports = (ROOT / "cato_migrate" / "ports.py").read_text()
    contract = ports[ports.index("# -- canary analysis"):ports.index("STACK_NAMES")]
    names = set(re.findall(r"\bcato_[a-z_]+", contract))
    names |= {n[:-len("_bucket")] + s for n in names if n.endswith("_bucket") for s in ("_sum", "_count")}
    runbook = yaml.safe_load((ROOT / "runbook" / "runbook.yaml").read_text())
    names |= {n for q in runbook["metrics"].values() for n in re.findall(r"\bcato_[a-z_]+", q)}
    return names


def dashboard_problems(dash: dict) -> list[str]:
    """What is wrong with a dashboard: panels without a query, series outside the contract."""
    allowed = _contract_metric_names()
    problems, exprs = [], [a["expr"] for a in dash.get("annotations", {}).get("list", []) if "expr" in a]
    for panel in dash.get("panels", []):
        targets = panel.get("targets") or []
        if not targets or not all(t.get("expr") for t in targets):
            problems.append(f"panel {panel.get('title')!r} has no query")
        exprs += [t.get("expr") or "" for t in targets]
    problems += [f"{n} is not in the ports.py contract" for e in exprs
                 for n in sorted(set(re.findall(r"\bcato_[a-z_:]+", e)) - allowed)]
    return problems


def test_dashboard_is_json_and_reads_only_the_contracts_series():
    dash = json.loads((ROOT / "deploy" / "grafana" / "cato-canary.json").read_text())
    assert dash["uid"] and dash["panels"]
    assert dashboard_problems(dash) == []
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    assert "by (stack" in exprs and "cato_gateway_request_duration_seconds_bucket" in exprs


def test_dashboard_lint_catches_a_typo_and_an_empty_panel():
    dash = json.loads((ROOT / "deploy" / "grafana" / "cato-canary.json").read_text())
    dash["panels"][0]["targets"][0]["expr"] = "sum by (stack) (rate(cato_gateway_request_total[5m]))"
    dash["panels"].append({"title": "empty", "targets": []})
    problems = dashboard_problems(dash)
    assert any("cato_gateway_request_total" in p for p in problems)
    assert any("'empty' has no query" in p for p in problems)


def test_the_sandbox_record_drives_the_targets(tmp_path):
    """manager.write_state (every start, add, remove) rewrites the file_sd targets."""
    from cato_sandbox.manager import write_state

    prometheus_server.write_config(tmp_path / "prometheus")
    write_state(tmp_path, {"version": 1, "complete": True, "components": [
        {"name": "gateway", "url": "http://127.0.0.1:4500"}, {"name": "orchestrator", "url": "http://127.0.0.1:4600"}]})
    targets = tmp_path / "prometheus" / "targets"
    assert json.loads((targets / "cato-orchestrator.json").read_text())[0]["targets"] == ["127.0.0.1:4600"]
