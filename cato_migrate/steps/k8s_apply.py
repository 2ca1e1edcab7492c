"""Server-side apply a manifest, after validating its custom resources against the vendored CRDs."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel
from cato_migrate.errors import CatoError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKLOAD_KINDS = ("Deployment", "RayService")


class ApplyParams(CoreModel):
    manifest: str = Field(description="Manifest path: absolute, or relative to the working directory, deploy_root, or the project.")
    namespace: str = Field(description="Namespace the manifest's objects must be in.")
    ready_timeout_s: float = Field(default=900.0, gt=0, description="How long verify waits for each workload to be ready.")


def resolve_manifest(manifest: str, settings) -> Path:
    """The first existing of: as given, under deploy_root, under the project root (where k8s/ ships)."""
    p = Path(manifest)
    if p.is_absolute():
        return p
    roots = [Path.cwd()] + ([Path(settings.deploy_root)] if getattr(settings, "deploy_root", None) else []) + [PROJECT_ROOT]
    return next((r / p for r in roots if (r / p).is_file()), Path.cwd() / p)


def _load(params, ctx):
    from cato_migrate.adapters import k8s_manifest as km

    path = resolve_manifest(params.manifest, ctx.settings)
    docs = km.load_documents(path)
    km.validate_custom_resources(path, docs)  # a bad manifest is BadInput (file + field); nothing applied
    return path, docs


@register_step
class K8sApply(StepKind):
    name = "k8s_apply"
    Params = ApplyParams

    def plan(self, step, params, ctx) -> str:
        from cato_migrate.adapters import k8s_manifest as km

        path, docs = _load(params, ctx)
        waits = [km.ref(d) for d in docs if d["kind"] in WORKLOAD_KINDS]
        return (f"server-side apply {', '.join(km.ref(d) for d in docs)} from {params.manifest} into namespace "
                f"{params.namespace} (field manager cato-migrate; custom resources checked against the CRD schema)"
                + (f"; wait until {', '.join(waits)} ready" if waits else ""))

    def apply(self, step, params, ctx) -> dict:
        path, _docs = _load(params, ctx)
        ctx.progress(f"server-side apply {params.manifest} in {params.namespace}")
        applied = ctx.services.workloads().apply(str(path), params.namespace)
        return {"manifest": params.manifest, "applied": applied}

    def verify(self, step, params, ctx) -> Verification:
        _path, docs = _load(params, ctx)
        wl = ctx.services.workloads()
        seen, problems = {}, []
        for d in docs:
            if d["kind"] not in WORKLOAD_KINDS:
                continue
            name = d["metadata"]["name"]
            try:
                st = wl.wait_ready(name, params.namespace, params.ready_timeout_s)
                seen[name] = {"desired": st.desired, "ready": st.ready, "detail": st.detail}
            except CatoError as exc:
                problems.append(f"{d['kind']}/{name}: {exc.message}")
        if problems:
            return Verification(False, "; ".join(problems), {"ready": seen})
        what = ", ".join(f"{n} {v['ready']}/{v['desired']}" for n, v in seen.items()) or "no workloads to wait for"
        return Verification(True, f"applied and ready: {what}", {"ready": seen})
