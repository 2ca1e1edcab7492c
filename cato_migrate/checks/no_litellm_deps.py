"""Exit criterion "No LiteLLM dependencies": deployment files scanned, and the live legacy workload.

Files: manifests (k8s/), configuration (config/) and dependency files (pyproject, requirements)
under the deployment root; archived copies do not count. Live: LiteLLM still serving is a
failure; still deployed at 0 replicas (the monitoring period) is "waiting".
"""
from __future__ import annotations

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check


@register_check
class NoLitellmDependencies(CheckKind):
    name = "no_litellm_dependencies"

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        from cato_migrate.core.deploy_files import scan_litellm
        from cato_migrate.wiring import deploy_root

        s = ctx.settings
        root = deploy_root(s)
        if not root.exists():
            return CheckResult("waiting", f"deployment root {root} does not exist; nothing to scan yet",
                               evidence={"root": str(root)})
        findings = scan_litellm(root)
        st = ctx.services.workloads().status(s.legacy_workload, s.workload_namespace)
        evidence = {"root": str(root), "findings": [str(f) for f in findings[:50]], "count": len(findings),
                    "legacy_workload": st.model_dump()}
        if findings:
            first = "; ".join(str(f) for f in findings[:3])
            return CheckResult("fail", f"{len(findings)} LiteLLM reference(s) remain in the deployment files: {first}"
                               + (" ..." if len(findings) > 3 else ""), float(len(findings)), evidence)
        if st.exists and (st.ready > 0 or st.desired > 0):
            return CheckResult("fail", f"LiteLLM is still running ({st.ready}/{st.desired} ready)",
                               float(len(findings)), evidence)
        if st.exists:
            return CheckResult("waiting", "no references in the deployment files; the LiteLLM workload still exists "
                               "at 0 replicas (delete it after the monitoring period: `cato-migrate decommission --delete`)",
                               0.0, evidence)
        return CheckResult("pass", f"no LiteLLM references in {root} (manifests, config, dependency files); "
                           "the LiteLLM workload is deleted", 0.0, evidence)
