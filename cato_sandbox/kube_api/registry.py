"""Which resources the stand-in serves, and the discovery documents that describe them."""
from __future__ import annotations

from dataclasses import dataclass, field

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    subresources: tuple[str, ...] = ()
    builtin: bool = True  # built-in kinds accept strategic-merge patches; custom resources do not
    schema: dict | None = None  # a CRD version's openAPIV3Schema
    short_names: list[str] = field(default_factory=list)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """What the API names in messages: 'deployments.apps', 'configmaps'."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self) -> list[dict]:
        out = [{"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                "kind": self.kind, "verbs": VERBS, **({"shortNames": self.short_names} if self.short_names else {})}]
        if "status" in self.subresources:
            out.append({"name": f"{self.plural}/status", "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": ["get", "patch", "update"]})
        if "scale" in self.subresources:
            out.append({"name": f"{self.plural}/scale", "singularName": "", "namespaced": self.namespaced,
                        "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
        return out


BUILTINS = [
    ResourceType("", "v1", "namespaces", "Namespace", "namespace", False, ("status",), short_names=["ns"]),
    ResourceType("", "v1", "configmaps", "ConfigMap", "configmap", True, short_names=["cm"]),
    ResourceType("", "v1", "secrets", "Secret", "secret", True),
    ResourceType("", "v1", "services", "Service", "service", True, ("status",), short_names=["svc"]),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", True, short_names=["sa"]),
    ResourceType("apps", "v1", "deployments", "Deployment", "deployment", True, ("status", "scale"), short_names=["deploy"]),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                 "customresourcedefinition", False, ("status",), short_names=["crd", "crds"]),
]


class Registry:
    def __init__(self):
        self.types: dict[tuple[str, str, str], ResourceType] = {(t.group, t.version, t.plural): t for t in BUILTINS}
        self.preferred: dict[str, str] = {t.group: t.version for t in BUILTINS if t.group}

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        return next((t for t in self.types.values() if t.group == group and t.version == version and t.kind == kind), None)

    def register_crd(self, crd: dict) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        self.unregister_crd(crd)
        storage = None
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            subs = tuple(s for s in ("status", "scale") if s in (v.get("subresources") or {}))
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            self.types[(spec["group"], v["name"], names["plural"])] = ResourceType(
                spec["group"], v["name"], names["plural"], names["kind"], names.get("singular", names["kind"].lower()),
                spec.get("scope", "Namespaced") == "Namespaced", subs, builtin=False, schema=schema,
                short_names=list(names.get("shortNames") or []))
            if v.get("storage") or storage is None:
                storage = v["name"]
        if storage:
            self.preferred[spec["group"]] = storage

    def unregister_crd(self, crd: dict) -> None:
        spec = crd.get("spec") or {}
        plural = (spec.get("names") or {}).get("plural")
        for key in [k for k in self.types if k[0] == spec.get("group") and k[2] == plural and not self.types[k].builtin]:
            del self.types[key]
        if not any(k[0] == spec.get("group") for k in self.types):
            self.preferred.pop(spec.get("group"), None)

    # --- discovery documents ---------------------------------------------------------------

    def api_versions(self, server_address: str) -> dict:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}

    def _group(self, group: str) -> dict:
        versions = sorted({t.version for t in self.types.values() if t.group == group}, reverse=True)
        pref = self.preferred.get(group, versions[0])
        gv = lambda v: {"groupVersion": f"{group}/{v}", "version": v}  # noqa: E731
        return {"name": group, "versions": [gv(pref)] + [gv(v) for v in versions if v != pref],
                "preferredVersion": gv(pref)}

    def group_list(self) -> dict:
        groups = sorted({t.group for t in self.types.values() if t.group})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(g) for g in groups]}

    def group(self, group: str) -> dict | None:
        if not any(t.group == group for t in self.types.values()):
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group(group)}

    def resource_list(self, group: str, version: str) -> dict | None:
        types = [t for t in self.types.values() if t.group == group and t.version == version]
        if not types:
            return None
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
                "resources": [r for t in sorted(types, key=lambda t: t.plural) for r in t.discovery()]}
