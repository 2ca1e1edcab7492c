"""Install or upgrade a helm chart (the runbook's KubeRay operator), then prove it is deployed."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel


class HelmParams(CoreModel):
    release: str = Field(description="helm release name.")
    chart: str = Field(description="Chart reference, e.g. kuberay/kuberay-operator (its repo added with `helm repo add`).")
    namespace: str = Field(description="Namespace of the release (created if missing).")
    version: str = Field(default="", description="Chart version to pin; empty lets helm take the newest (not recommended).")
    values: dict[str, Any] = Field(default_factory=dict, description="Values passed to the chart.")


@register_step
class HelmRelease(StepKind):
    name = "helm_release"
    Params = HelmParams

    def plan(self, step, params, ctx) -> str:
        pin = f" --version {params.version}" if params.version else " (no version pinned: helm takes the newest chart)"
        vals = f" with values {', '.join(sorted(params.values))}" if params.values else ""
        return (f"helm upgrade --install {params.release} {params.chart} --namespace {params.namespace} "
                f"--create-namespace --wait{pin}{vals}; then read `helm status` back until the release is deployed")

    def apply(self, step, params, ctx) -> dict:
        ctx.progress(f"helm upgrade --install {params.release} ({params.chart}) in {params.namespace}")
        rel = ctx.services.workloads().install_chart(params.release, params.chart, params.namespace,
                                                     params.version, params.values or None)
        return {"release": params.release, "revision": rel.get("revision"), "status": rel.get("status"),
                "chart": rel.get("chart")}

    def verify(self, step, params, ctx) -> Verification:
        st = ctx.services.workloads().chart_status(params.release, params.namespace)
        if st is None:
            return Verification(False, f"helm release {params.release} not found in {params.namespace}")
        ok = st.get("status") == "deployed"
        if st.get("local_stand_in"):  # the sandbox: no chart, a local process stands in for it
            return Verification(ok, f"release {params.release}: {st.get('status')} (sandbox stand-in: {st.get('detail')})",
                                dict(st))
        pinned = not params.version or (st.get("chart") or "").endswith(f"-{params.version}")
        msg = f"release {params.release} revision {st.get('revision')}: {st.get('status')} ({st.get('chart')})"
        if not pinned:
            msg += f"; expected chart version {params.version}"
        return Verification(ok and pinned, msg, dict(st))
