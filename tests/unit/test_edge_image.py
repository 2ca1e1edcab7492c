"""The edge's image and manifests agree with its code: the files the Dockerfile copies are enough
to import and start the edge (no boto3, no sandbox), and the Deployment runs it on the port its
probes, Service and scrape annotations name. (Schema validation: tests/unit/test_k8s_manifests.py.)"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "images" / "edge" / "Dockerfile"
MANIFEST = ROOT / "k8s" / "edge" / "deployment.yaml"


def _copies() -> list[tuple[list[str], str]]:
    out = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY "):
            *sources, dest = shlex.split(line)[1:]
            out.append((sources, dest))
    return out


def test_the_copied_files_are_enough_to_run_the_edge(tmp_path):
    for sources, dest in _copies():
        for src in sources:
            target = tmp_path / dest / (Path(src).name if not src.endswith("/") else "")
            if (ROOT / src).is_dir():
                shutil.copytree(ROOT / src, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / src, target)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import cato_migrate.edge.gateway as g; "
            "assert g.__file__.startswith(sys.argv[1]), g.__file__; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'typer', 'httpx') "
            "or m.startswith('cato_sandbox')]; assert not bad, bad; "
            "g.main(['--help'])")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "--legacy-url" in r.stdout and "--appconfig-agent-url" in r.stdout


def test_the_deployment_runs_the_edge_image_on_the_port_it_probes_and_serves():
    docs = {d["kind"]: d for d in yaml.safe_load_all(MANIFEST.read_text())}
    pod = docs["Deployment"]["spec"]["template"]
    edge = next(c for c in pod["spec"]["containers"] if c["name"] == "edge")
    port = edge["ports"][0]["containerPort"]
    assert f"EXPOSE {port}" in DOCKERFILE.read_text() and edge["args"][-1] == str(port)
    assert edge["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == edge["ports"][0]["name"]
    assert docs["Service"]["spec"]["selector"] == docs["Deployment"]["spec"]["selector"]["matchLabels"]
    env = docs["ConfigMap"]["data"]
    agent = next(c for c in pod["spec"]["containers"] if c["name"] == "appconfig-agent")
    prefetch = next(e["value"] for e in agent["env"] if e["name"] == "PREFETCH_LIST")
    assert prefetch == (f"/applications/{env['CATO_EDGE_APPLICATION']}/environments/{env['CATO_EDGE_ENVIRONMENT']}"
                        f"/configurations/{env['CATO_EDGE_PROFILE']}")
    assert env["CATO_EDGE_APPCONFIG_AGENT_URL"].endswith(str(agent["ports"][0]["containerPort"]))
