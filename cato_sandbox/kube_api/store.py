"""The stand-in's objects: CRUD, resourceVersion, generation, field managers; the two controllers
(controllers.py) reconcile Deployment and RayService status."""
from __future__ import annotations

import copy
import re
import threading
import time
import uuid

from cato_sandbox.kube_api import patch as P
from cato_sandbox.kube_api import status as S
from cato_sandbox.kube_api.controllers import (deployment_causes, deployment_status, omit_zero, rayservice_status,
                                              utc_now)
from cato_sandbox.kube_api.registry import Registry, ResourceType
from cato_sandbox.kube_api.selectors import field_match, label_match
from cato_sandbox.kube_api.status import ApiError

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
PATCH_TYPES_BUILTIN = ["application/json-patch+json", "application/merge-patch+json",
                       "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
PATCH_TYPES_CUSTOM = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]


class Cluster:
    def __init__(self, *, deployment_delay: float = 0.5, rayservice_delay: float = 1.0, clock=time.monotonic):
        self.registry = Registry()
        self.lock = threading.RLock()
        self.objects: dict[tuple, dict] = {}  # (group, plural, namespace, name) -> object
        self.managers: dict[tuple, dict] = {}  # same key -> {(manager, operation): {"paths", "time", "apiVersion"}}
        self.changed_at: dict[tuple, float] = {}  # when a controller's input last changed
        self.rv = 0
        self.deployment_delay, self.rayservice_delay, self.clock = deployment_delay, rayservice_delay, clock
        self.objects[("", "namespaces", "", "default")] = self._stamp_new(
            self.registry.lookup("", "v1", "namespaces"), {"metadata": {"name": "default"}}, "")

    # --- helpers -------------------------------------------------------------------------

    def _key(self, rt: ResourceType, ns: str, name: str) -> tuple:
        return (rt.group, rt.plural, ns if rt.namespaced else "", name)

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _require_namespace(self, rt: ResourceType, ns: str) -> None:
        if rt.namespaced and ("", "namespaces", "", ns) not in self.objects:
            raise S.namespace_not_found(ns)

    def _stamp_new(self, rt: ResourceType, obj: dict, ns: str) -> dict:
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        md = obj.setdefault("metadata", {})
        for k in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "deletionTimestamp"):
            md.pop(k, None)
        if rt.namespaced:
            md["namespace"] = ns
        md.update(uid=str(uuid.uuid4()), resourceVersion=self._next_rv(), creationTimestamp=utc_now(), generation=1)
        if rt.kind == "Namespace":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        if rt.kind == "Deployment":
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            obj["status"] = {}
        if rt.kind == "Service":
            obj.setdefault("spec", {}).setdefault("type", "ClusterIP")
            obj["spec"].setdefault("clusterIP", f"10.96.0.{self.rv % 250 + 2}")
            obj["status"] = {"loadBalancer": {}}
        if rt.kind == "CustomResourceDefinition":
            obj["status"] = {"acceptedNames": obj.get("spec", {}).get("names", {}), "storedVersions": [
                v["name"] for v in obj.get("spec", {}).get("versions", []) if v.get("storage")],
                "conditions": [{"type": t, "status": "True", "reason": r, "lastTransitionTime": utc_now(), "message": m}
                               for t, r, m in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                                               ("Established", "InitialNamesAccepted", "the initial names have been accepted"))]}
        if not rt.builtin:
            obj.pop("status", None)  # a custom resource's status is its controller's to write
        return obj

    def _validate(self, rt: ResourceType, obj: dict, field_validation: str) -> list[str]:
        """422 on schema errors; returns warnings (pruned unknown fields) like the real API."""
        name = obj.get("metadata", {}).get("name", "")
        if not isinstance(name, str) or not _DNS1123.match(name) or len(name) > 253:
            raise S.invalid(rt, str(name), [{"reason": "FieldValueInvalid", "field": "metadata.name", "message":
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
                "characters, '-' or '.', and must start and end with an alphanumeric character"}])
        causes = []
        if rt.schema is not None:
            from cato_migrate.adapters.k8s_manifest import schema_causes

            strict = field_validation == "Strict"
            causes = schema_causes(rt.schema, obj, strict=strict)
            if not causes and not strict:
                unknown = schema_causes(rt.schema, obj, strict=True)
                warnings = [f'unknown field "{c["field"]}"' for c in unknown]
                for c in unknown:
                    _prune(obj, c["field"])
                if warnings and field_validation != "Ignore":
                    return warnings
        elif rt.kind == "Deployment":
            causes = deployment_causes(obj)
        elif rt.kind == "Service":
            if not obj.get("spec", {}).get("ports") and obj.get("spec", {}).get("type") != "ExternalName":
                causes = [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.ports"}]
        elif rt.kind in ("ConfigMap", "Secret"):
            causes = [{"reason": "FieldValueInvalid", "field": f"data[{k}]", "message": "Invalid value: must be a string"}
                      for k, v in (obj.get("data") or {}).items() if not isinstance(v, str)]
        if causes:
            raise S.invalid(rt, name, causes)
        return []

    def _attribute(self, key: tuple, manager: str, op: str, api_version: str, before: dict | None, after: dict,
                   *, status: bool = False) -> None:
        """Record an Update's changed leaves against `manager`, taking them from everyone else."""
        managers = self.managers.setdefault(key, {})
        old = P.owned_leaves(before or {}, status=status)
        changed = {p for p, v in P.owned_leaves(after, status=status).items() if old.get(p, P._MISSING) != v}
        if not changed:
            return
        me = (manager, op)
        P.disown(managers, changed, keep=me)
        entry = managers.setdefault(me, {"paths": set()})
        entry.update(paths=entry["paths"] | changed, time=utc_now(), apiVersion=api_version)

    def _render(self, key: tuple, obj: dict, rt: ResourceType) -> dict:
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version  # served at the version asked for
        mf = [{"manager": m, "operation": op, "apiVersion": e.get("apiVersion", rt.api_version), "time": e.get("time", utc_now()),
               "fieldsType": "FieldsV1", "fieldsV1": P.fields_v1(e["paths"]),
               **({"subresource": e["subresource"]} if e.get("subresource") else {})}
              for (m, op), e in self.managers.get(key, {}).items() if e["paths"]]
        if mf:
            out["metadata"]["managedFields"] = mf
        return out

    def _store(self, rt: ResourceType, key: tuple, before: dict | None, obj: dict) -> dict:
        """Bump resourceVersion (and generation when the spec changed); note controller input changes."""
        md = obj["metadata"]
        if before is not None:
            if _spec_part(before) != _spec_part(obj):
                md["generation"] = before["metadata"].get("generation", 1) + 1
                self.changed_at[key] = self.clock()
            if before == obj:
                return obj  # a no-op write does not bump resourceVersion
        else:
            self.changed_at[key] = self.clock()
        md["resourceVersion"] = self._next_rv()
        self.objects[key] = obj
        if rt.kind == "CustomResourceDefinition":
            self.registry.register_crd(obj)
        return obj

    # --- controllers -----------------------------------------------------------------------

    def reconcile(self) -> None:
        now = self.clock()
        for key, obj in list(self.objects.items()):
            since = self.changed_at.get(key)
            if since is None:
                continue
            if key[1] == "deployments" and now - since >= self.deployment_delay:
                self._set_status(key, deployment_status(obj))
                self.changed_at.pop(key, None)
            elif key[:2] == ("ray.io", "rayservices") and now - since >= self.rayservice_delay:
                self._set_status(key, rayservice_status(obj))
                self.changed_at.pop(key, None)

    def _set_status(self, key: tuple, status: dict) -> None:
        obj = self.objects[key]
        if obj.get("status") != status:
            obj["status"] = status
            obj["metadata"]["resourceVersion"] = self._next_rv()

    # --- verbs -----------------------------------------------------------------------------

    def get(self, rt: ResourceType, ns: str, name: str) -> dict:
        key = self._key(rt, ns, name)
        if key not in self.objects:
            raise S.not_found(rt, name)
        return self._render(key, self.objects[key], rt)

    def list(self, rt: ResourceType, ns: str | None, label_selector: str = "", field_selector: str = "") -> dict:
        items = []
        for key, obj in sorted(self.objects.items()):
            if key[:2] != (rt.group, rt.plural) or (ns and key[2] != ns):
                continue
            if label_match(obj.get("metadata", {}).get("labels") or {}, label_selector) and field_match(obj, field_selector):
                items.append(self._render(key, obj, rt))
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def create(self, rt: ResourceType, ns: str, body: dict, manager: str, *, dry_run=False, field_validation="") -> tuple[dict, list]:
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request must be a JSON object")
        self._require_namespace(rt, ns)
        name = (body.get("metadata") or {}).get("name", "")
        body_ns = (body.get("metadata") or {}).get("namespace")
        if rt.namespaced and body_ns and body_ns != ns:
            raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
        key = self._key(rt, ns, name)
        if key in self.objects:
            raise S.already_exists(rt, name)
        obj = self._stamp_new(rt, body, ns)
        warnings = self._validate(rt, obj, field_validation)
        if dry_run:
            return self._render(key, obj, rt), warnings
        self._attribute(key, manager, "Update", rt.api_version, None, obj)
        self._store(rt, key, None, obj)
        return self._render(key, obj, rt), warnings

    def replace(self, rt: ResourceType, ns: str, name: str, body: dict, manager: str, *, subresource: str = "",
                field_validation="", dry_run=False) -> tuple[dict, list]:
        key = self._key(rt, ns, name)
        if key not in self.objects:
            raise S.not_found(rt, name)
        before = self.objects[key]
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if not rv:
            raise S.invalid(rt, name, [{"reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                                        "message": "Invalid value: 0x0: must be specified for an update"}])
        if rv != before["metadata"]["resourceVersion"]:
            raise S.modified(rt, name)
        return self._write(rt, key, before, body, manager, subresource, field_validation, dry_run)

    def _write(self, rt, key, before, new, manager, subresource, field_validation, dry_run,
               attribute: bool = True) -> tuple[dict, list]:
        """Apply the rules of a write to `new` (a full object): immutable metadata, status split, validation."""
        new = copy.deepcopy(new)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        md = new.setdefault("metadata", {})
        if md.get("name") != before["metadata"]["name"]:
            raise ApiError(400, f"the name of the object ({md.get('name')}) does not match the name on the URL "
                                f"({before['metadata']['name']})")
        for k in ("uid", "creationTimestamp", "generation", "namespace"):
            if k in before["metadata"]:
                md[k] = before["metadata"][k]
        md.pop("managedFields", None)
        md["resourceVersion"] = before["metadata"]["resourceVersion"]
        if "status" in rt.subresources:
            if subresource == "status":
                new = {**copy.deepcopy(before), "status": new.get("status", {})}
            elif "status" in before:
                new["status"] = copy.deepcopy(before["status"])
            else:
                new.pop("status", None)
        warnings = self._validate(rt, new, field_validation)
        if dry_run:
            return self._render(key, new, rt), warnings
        if attribute:
            self._attribute(key, manager, "Update", rt.api_version, before, new, status=subresource == "status")
        if attribute and subresource and (manager, "Update") in self.managers.get(key, {}):
            self.managers[key][(manager, "Update")]["subresource"] = subresource
        self._store(rt, key, before, new)
        return self._render(key, new, rt), warnings

    def patch(self, rt: ResourceType, ns: str, name: str, body, content_type: str, manager: str, *,
              force: bool = False, subresource: str = "", field_validation="", dry_run=False) -> tuple[dict, list]:
        accepted = PATCH_TYPES_BUILTIN if rt.builtin else PATCH_TYPES_CUSTOM
        if content_type not in accepted:
            raise S.unsupported_patch(accepted)
        key = self._key(rt, ns, name)
        if content_type == "application/apply-patch+yaml":
            return self._apply(rt, ns, name, key, body, manager, force, subresource, field_validation, dry_run)
        if key not in self.objects:
            raise S.not_found(rt, name)
        before = self.objects[key]
        current = copy.deepcopy(before)
        if content_type == "application/json-patch+json":
            new = P.json_patch(current, body)
        elif not isinstance(body, dict):
            raise ApiError(400, "the body of a merge patch must be a JSON object")
        else:
            new = (P.strategic_merge if content_type.startswith("application/strategic") else P.merge_patch)(current, body)
        rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        if rv and rv != before["metadata"]["resourceVersion"]:
            raise S.modified(rt, name)
        return self._write(rt, key, before, new, manager, subresource, field_validation, dry_run)

    def _apply(self, rt, ns, name, key, body, manager, force, subresource, field_validation, dry_run):
        if not manager:
            raise S.invalid(rt, name, [{"reason": "FieldValueRequired", "field": "fieldManager",
                                        "message": "Required value: is required for apply patch"}])
        if not isinstance(body, dict):
            raise ApiError(400, "the body of an apply patch must be an object")
        if body.get("apiVersion") != rt.api_version or body.get("kind") != rt.kind:
            raise ApiError(400, f"apply patch: apiVersion/kind {body.get('apiVersion')}/{body.get('kind')} does not "
                                f"match the URL's {rt.api_version}/{rt.kind}")
        if (body.get("metadata") or {}).get("name") != name:
            raise ApiError(400, f"the name of the object ({(body.get('metadata') or {}).get('name')}) does not match "
                                f"the name on the URL ({name})")
        me = (manager, "Apply")
        applied = P.owned_leaves(body, status=subresource == "status")
        if key not in self.objects:
            self._require_namespace(rt, ns)
            obj = self._stamp_new(rt, body, ns)
            warnings = self._validate(rt, obj, field_validation)
            if not dry_run:
                self.managers[key] = {me: {"paths": set(applied), "time": utc_now(), "apiVersion": rt.api_version}}
                self._store(rt, key, None, obj)
            return self._render(key, obj, rt), warnings
        before = self.objects[key]
        managers = self.managers.setdefault(key, {})
        found = P.conflicts(before, applied, managers, me)
        if found and not force:
            raise S.apply_conflict(rt, name, [(m, P.render_path(p)) for (m, _op), p in found], rt.api_version)
        new = P.apply_merge(copy.deepcopy(before), {k: v for k, v in body.items() if k not in ("apiVersion", "kind")})
        new["metadata"] = {**before["metadata"], **{k: new["metadata"][k] for k in ("labels", "annotations") if k in new["metadata"]}}
        previous = managers.get(me, {}).get("paths", set())
        others = set().union(*[e["paths"] for k, e in managers.items() if k != me]) if len(managers) > (me in managers) else set()
        for path in sorted(previous - set(applied), key=len, reverse=True):
            if path not in others:
                P.delete_at(new, path)  # a field this manager stopped applying, owned by no one else, goes
        out, warnings = self._write(rt, key, before, new, manager, subresource, field_validation, dry_run,
                                    attribute=False)
        if not dry_run:
            if force:
                P.disown(managers, [p for _, p in found], keep=me)  # forced: the others lose those fields
            managers[me] = {"paths": set(applied), "time": utc_now(), "apiVersion": rt.api_version}
            out = self._render(key, self.objects[key], rt)
        return out, warnings

    def delete(self, rt: ResourceType, ns: str, name: str) -> dict:
        key = self._key(rt, ns, name)
        if key not in self.objects:
            raise S.not_found(rt, name)
        obj = self.objects.pop(key)
        self.managers.pop(key, None)
        self.changed_at.pop(key, None)
        if rt.kind == "Namespace":
            for k in [k for k in self.objects if k[2] == name]:
                self.objects.pop(k)
                self.managers.pop(k, None)
                self.changed_at.pop(k, None)
            gone = copy.deepcopy(obj)
            gone["status"] = {"phase": "Terminating"}
            gone["metadata"]["deletionTimestamp"] = utc_now()
            return gone
        if rt.kind == "CustomResourceDefinition":
            spec = obj.get("spec", {})
            plural = spec.get("names", {}).get("plural")
            for k in [k for k in self.objects if k[:2] == (spec.get("group"), plural)]:
                self.objects.pop(k)
            self.registry.unregister_crd(obj)
        if not rt.builtin:
            return self._render(key, obj, rt)
        return S.success(rt, name, obj["metadata"]["uid"])

    # --- scale subresource ------------------------------------------------------------------

    def get_scale(self, rt: ResourceType, ns: str, name: str) -> dict:
        obj = self.get(rt, ns, name)
        md = obj["metadata"]
        sel = ",".join(f"{k}={v}" for k, v in sorted(((obj["spec"].get("selector") or {}).get("matchLabels") or {}).items()))
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
                "spec": omit_zero({"replicas": obj["spec"].get("replicas", 0)}),
                # ScaleStatus.replicas has no omitempty in the real API (clients require it); spec's has.
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), **({"selector": sel} if sel else {})}}

    def write_scale(self, rt: ResourceType, ns: str, name: str, body, content_type: str | None, manager: str,
                    dry_run=False) -> dict:
        scale = self.get_scale(rt, ns, name)
        if content_type is None:  # PUT
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv and rv != scale["metadata"]["resourceVersion"]:
                raise S.modified(rt, name)
            new = body
        elif content_type == "application/json-patch+json":
            new = P.json_patch(scale, body)
        elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            new = P.merge_patch(scale, body)
        else:
            raise S.unsupported_patch(PATCH_TYPES_BUILTIN[:3])
        replicas = (new.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(422, f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                                "must be greater than or equal to 0", "Invalid")
        key = self._key(rt, ns, name)
        before = self.objects[key]
        obj = copy.deepcopy(before)
        obj["spec"]["replicas"] = replicas
        self._write(rt, key, before, obj, manager, "scale", "", dry_run)
        return self.get_scale(rt, ns, name)


def _spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _prune(obj: dict, field: str) -> None:
    parts = re.findall(r"[^.\[\]]+", field)
    node = obj
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node.get(p, {})
    if isinstance(node, dict):
        node.pop(parts[-1], None)
