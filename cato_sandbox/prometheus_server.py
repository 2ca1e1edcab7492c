"""The sandbox's Prometheus server: its config, its scrape targets, its command line.

A real `prometheus` (Debian's package, installed by `make setup`) on loopback, with its own data
directory under the sandbox state dir (`<state_dir>/prometheus/`):

    prometheus.yml        generated: scrape and rule evaluation every 1 s, the alerting rules
                          shipped in deploy/prometheus/cato-canary-rules.yml
    targets/<job>.json    file_sd target lists, one per job, rewritten whenever the sandbox's
                          record changes (manager.write_state calls `write_targets`)
    data/                 the TSDB

Why file_sd: the orchestrator starts after Prometheus (`orchestrator install`), and a component
that is scaled to 0 and back comes up on a new free port. Prometheus watches the target files and
follows (its discovery manager applies target changes at most every 5 s, so the first samples land
5-6 s after `sandbox up` or after a component moves; the health check waits only for /-/ready, so
`sandbox up` does not pay that). Nothing is restarted and no samples are lost. A component that is
not running has an empty target list (no target, rather than a target that is down).

LiteLLM is not scraped: it serves /metrics only with `callbacks: ["prometheus"]`, which the legacy
stack's config/litellm.yaml does not set; the gateway's per-stack series measure both stacks.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["JOBS", "RULES_FILE", "prometheus_argv", "prometheus_config", "prometheus_prereq",
           "write_config", "write_targets"]

_REPO = Path(__file__).resolve().parents[1]
RULES_FILE = _REPO / "deploy" / "prometheus" / "cato-canary-rules.yml"
DIR_NAME = "prometheus"
# Prometheus job name -> the sandbox component it scrapes (at <url>/metrics).
JOBS = {"cato-gateway": "gateway", "cato-orchestrator": "orchestrator"}
SCRAPE_INTERVAL = "1s"


def prometheus_prereq() -> str | None:
    if shutil.which("prometheus") is None:
        return ("prometheus is not on PATH: run `apt-get install -y prometheus` as root, then "
                "`service prometheus stop` (or `make setup`, which does both)")
    return None


def prometheus_config(targets_dir: Path, rules_files: list[Path], jobs: dict[str, str] | None = None,
                      interval: str = SCRAPE_INTERVAL) -> dict:
    """prometheus.yml as data: one file_sd job per entry of `jobs`, rules evaluated every `interval`."""
    return {
        "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval,
                   "external_labels": {"environment": "local"}},
        "rule_files": [str(p) for p in rules_files],
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics",
             "file_sd_configs": [{"files": [str(targets_dir / f"{job}.json")], "refresh_interval": "5s"}]}
            for job in (JOBS if jobs is None else jobs)],
    }


def _write_atomic(path: Path, text: str) -> None:
    """Write only when the content changes, by rename (Prometheus may read the file at any moment)."""
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_config(root: Path, rules_files: list[Path] | None = None, jobs: dict[str, str] | None = None) -> Path:
    """Create <root>/{prometheus.yml,targets/,data/}; returns the config file."""
    import yaml

    rules = [RULES_FILE] if rules_files is None and RULES_FILE.exists() else (rules_files or [])
    (root / "targets").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    config = root / "prometheus.yml"
    _write_atomic(config, yaml.safe_dump(prometheus_config(root / "targets", rules, jobs), sort_keys=False))
    return config


def target_groups(urls: dict[str, str], component: str) -> list[dict]:
    """A file_sd document: the component's host:port, or [] when it is not running."""
    url = urls.get(component)
    if not url:
        return []
    netloc = urlparse(url).netloc
    return [{"targets": [netloc], "labels": {"component": component}}] if netloc else []


def write_targets(state_dir: Path, state: dict, jobs: dict[str, str] | None = None) -> None:
    """Point each job at its component as the sandbox record has it now (no-op without Prometheus)."""
    targets = Path(state_dir) / DIR_NAME / "targets"
    if not targets.is_dir():
        return
    urls = {c.get("name"): c.get("url") for c in state.get("components", []) if isinstance(c, dict)}
    for job, component in (JOBS if jobs is None else jobs).items():
        _write_atomic(targets / f"{job}.json", json.dumps(target_groups(urls, component), indent=1) + "\n")


def prometheus_argv(root: Path, host: str, port: int, binary: str | None = None) -> list[str]:
    return [binary or shutil.which("prometheus") or "prometheus",
            f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address={host}:{port}", "--storage.tsdb.retention.time=2d",
            # The sandbox's own, never a system-wide console/template directory.
            f"--web.console.templates={root}", f"--web.console.libraries={root}"]
