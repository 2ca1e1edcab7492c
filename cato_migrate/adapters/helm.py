"""helm, run as a subprocess: a pinned binary (helm v4.1.4 from `scripts/get-helm.sh`).

helm talks protobuf to the API server, so it cannot run against the sandbox's JSON-only
stand-in: its tests use `helm template` / `lint` / `install --dry-run=client` on a tiny
chart and check how failures map onto our errors. Every failure becomes a
`cato_migrate.errors` error that says what to run next.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cato_migrate.errors import BadInput, Conflict, ExternalError, NotFound

PINNED = "v4.1.4"


def default_binary() -> str | None:
    """The helm that `make setup` installs beside the venv's python, else one on PATH."""
    venv = Path(sys.executable).parent / "helm"
    return str(venv) if venv.is_file() else shutil.which("helm")


class Helm:
    def __init__(self, binary: str | None = None, kubeconfig: str | None = None, context: str | None = None,
                 timeout_s: float = 900.0):
        self.binary, self.kubeconfig, self.context, self.timeout_s = binary, kubeconfig, context, timeout_s

    def _bin(self) -> str:
        b = self.binary or default_binary()
        if not b or not Path(b).is_file():
            raise BadInput(f"helm is not installed{f' at {b}' if b else ''}",
                           hint="run `make setup` (installs the pinned helm into .venv/bin with scripts/get-helm.sh) "
                                "or set helm_binary in cato-migrate.toml / CATO_HELM_BINARY")
        return b

    def _cluster_flags(self) -> list[str]:
        return ([f"--kubeconfig={self.kubeconfig}"] if self.kubeconfig else []) + \
               ([f"--kube-context={self.context}"] if self.context else [])

    def run(self, args: list[str], what: str, *, cluster: bool = True, timeout_s: float | None = None) -> str:
        cmd = [self._bin(), *args, *(self._cluster_flags() if cluster else [])]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s or self.timeout_s)
        except (FileNotFoundError, PermissionError) as exc:
            raise BadInput(f"cannot run helm at {cmd[0]}: {exc}", hint="run `make setup` or fix helm_binary") from exc
        except subprocess.TimeoutExpired as exc:
            raise ExternalError(f"{what}: helm did not finish within {timeout_s or self.timeout_s:.0f}s",
                                hint="check the cluster (kubectl get pods -A) and re-run; the step is idempotent") from exc
        if p.returncode != 0:
            raise map_failure(what, p.stderr or p.stdout, args)
        return p.stdout

    # --- the port's two operations ----------------------------------------------------------

    def upgrade_install(self, release: str, chart: str, namespace: str, version: str = "",
                        values: dict | None = None, *, wait_s: float = 600.0) -> dict:
        args = ["upgrade", "--install", release, chart, "--namespace", namespace, "--create-namespace",
                "--wait", "--timeout", f"{int(wait_s)}s", "-o", "json"]
        if version:
            args += ["--version", version]
        with tempfile.TemporaryDirectory() as d:
            if values:
                f = Path(d) / "values.json"  # JSON is YAML: helm reads it as a values file
                f.write_text(json.dumps(values))
                args += ["--values", str(f)]
            out = self.run(args, f"helm upgrade --install {release} {chart} -n {namespace}", timeout_s=wait_s + 60)
        return summarise(_json(out, "helm upgrade"))

    def status(self, release: str, namespace: str) -> dict | None:
        try:
            out = self.run(["status", release, "--namespace", namespace, "-o", "json"], f"helm status {release} -n {namespace}")
        except NotFound:
            return None
        return summarise(_json(out, "helm status"))

    # --- offline operations (no cluster): what the tests can exercise here ----------------

    def template(self, release: str, chart: str, namespace: str, values: dict | None = None) -> str:
        with tempfile.TemporaryDirectory() as d:
            extra = []
            if values:
                (Path(d) / "v.json").write_text(json.dumps(values))
                extra = ["--values", str(Path(d) / "v.json")]
            return self.run(["template", release, chart, "--namespace", namespace, *extra],
                            f"helm template {chart}", cluster=False)

    def lint(self, chart: str) -> str:
        return self.run(["lint", chart], f"helm lint {chart}", cluster=False)

    def version(self) -> str:
        return self.run(["version", "--short"], "helm version", cluster=False).strip()


def _json(out: str, what: str) -> dict:
    try:
        return json.loads(out)
    except json.JSONDecodeError as exc:
        raise ExternalError(f"{what}: helm printed something that is not JSON: {out[:200]!r}") from exc


def summarise(rel: dict) -> dict:
    """The fields an on-call engineer reads from a release."""
    info, meta = rel.get("info") or {}, ((rel.get("chart") or {}).get("metadata") or {})
    return {"name": rel.get("name"), "namespace": rel.get("namespace"), "revision": rel.get("version"),
            "status": info.get("status"), "chart": f"{meta.get('name')}-{meta.get('version')}" if meta else None,
            "app_version": meta.get("appVersion"), "description": info.get("description")}


_RULES: list[tuple[str, type, str]] = [
    (r"release: not found", NotFound, "install it first (the helm_release step)"),
    (r"another operation \(install/upgrade/rollback\) is in progress", Conflict,
     "another helm operation holds the release: `helm history RELEASE -n NS`; when it is stuck, `helm rollback RELEASE -n NS`"),
    (r"has no deployed releases", Conflict,
     "a first install failed and left the release behind: `helm uninstall RELEASE -n NS`, then re-run the step"),
    (r"repo .* not found|no repo named|failed to fetch|could not find protocol handler|no cached repo",
     ExternalError, "add the chart repository: `helm repo add kuberay https://ray-project.github.io/kuberay-helm/ && helm repo update`"),
    (r"chart .* not found|path .* not found|no chart version found|not a valid chart", BadInput,
     "check the step's chart and version (helm search repo CHART --versions)"),
    (r"Kubernetes cluster unreachable|connection refused|no such host|i/o timeout", ExternalError,
     "check kubeconfig / kube_context (kubectl cluster-info) and your network path to the cluster"),
    (r"context deadline exceeded|timed out waiting|resources not ready", ExternalError,
     "the release's pods did not become ready in time: `kubectl get pods -n NS`, `kubectl describe pod ...`"),
    (r"forbidden|Unauthorized", ExternalError, "your credentials lack RBAC for this namespace: check the kube context"),
    (r"parse error|YAML parse|unknown field|error converting YAML|execution error", BadInput,
     "the chart or its values do not render; run `helm template` with the same values to see why"),
]


def map_failure(what: str, stderr: str, args: list[str]) -> Exception:
    text = stderr.strip()
    last = text.splitlines()[-1] if text else "helm failed with no output"
    rel = args[2] if args[:2] == ["upgrade", "--install"] else (args[1] if len(args) > 1 else "")
    ns = args[args.index("--namespace") + 1] if "--namespace" in args else ""
    for pattern, cls, hint in _RULES:
        if re.search(pattern, text, re.I):
            return cls(f"{what}: {last}", hint=hint.replace("RELEASE", rel).replace("NS", ns or "NAMESPACE"),
                       details={"stderr": text[-2000:]})
    return ExternalError(f"{what}: {last}", hint="read helm's message above; re-run the step once fixed (it is idempotent)",
                         details={"stderr": text[-2000:]})
