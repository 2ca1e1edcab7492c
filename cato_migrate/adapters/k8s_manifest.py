"""Kubernetes manifests as data: load, name, and validate before anything is sent.

Pure (PyYAML + jsonschema, no cluster). Used by the `k8s_apply` step, the Kubernetes adapter
and the sandbox's Kubernetes API stand-in, so a manifest is judged by one set of rules.

Custom resources are validated against the CRD's `openAPIV3Schema` (the vendored KubeRay
CRDs in `k8s/crds/`). Like `kubectl apply --validate=strict`, an unknown field is an error
here: the real API server would silently prune it, and a typo'd field that never reaches the
operator is the bug we want to catch before applying. CEL rules
(`x-kubernetes-validations`) are not evaluated.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from cato_migrate.errors import BadInput

CRD_DIR = Path(__file__).resolve().parents[2] / "k8s" / "crds"
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _yaml():
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_documents(path: str | Path) -> list[dict]:
    """Every non-empty YAML document in the file; BadInput naming the file when it is not a manifest."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"manifest {p} does not exist", hint="check the step's `manifest` path (relative to the project root)")
    yaml, loader = _yaml()
    try:
        docs = [d for d in yaml.load_all(p.read_text(), Loader=loader) if d is not None]
    except yaml.YAMLError as exc:
        raise BadInput(f"{p}: not valid YAML: {exc}") from exc
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind"):
            raise BadInput(f"{p}: document {i + 1} is not a Kubernetes object (needs apiVersion and kind)")
        name = (d.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not _DNS1123.match(name):
            raise BadInput(f"{p}: {d['kind']} document {i + 1}: metadata.name {name!r} is not a valid DNS-1123 name")
    return docs


def ref(doc: dict) -> str:
    """'Kind/name', the way the Workloads port reports what it applied."""
    return f"{doc['kind']}/{doc['metadata']['name']}"


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def crd_versions(crd: dict) -> dict[tuple[str, str], dict]:
    """{(apiVersion, kind): openAPIV3Schema} for every version a CRD serves."""
    spec = crd.get("spec") or {}
    kind = (spec.get("names") or {}).get("kind")
    out = {}
    for v in spec.get("versions") or []:
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object"}
        out[(f"{spec.get('group')}/{v.get('name')}", kind)] = schema
    return out


@functools.lru_cache(maxsize=4)
def vendored_schemas(crd_dir: str = str(CRD_DIR)) -> dict[tuple[str, str], dict]:
    """Schemas from every CRD file in `crd_dir` (the vendored KubeRay v1.7.0 CRDs by default)."""
    yaml, loader = _yaml()
    out: dict[tuple[str, str], dict] = {}
    for f in sorted(Path(crd_dir).glob("*.yaml")):
        for doc in yaml.load_all(f.read_text(), Loader=loader):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                out.update(crd_versions(doc))
    return out


def _strict(schema):
    """Copy of an OpenAPI schema where objects with declared properties refuse unknown keys."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


_VALIDATORS: dict[tuple[int, bool], tuple[dict, object]] = {}


def _validator(schema: dict, strict: bool):
    """One compiled validator per schema object (kept alive beside it, so its id stays unique)."""
    import jsonschema

    key = (id(schema), strict)
    if key not in _VALIDATORS:
        # The root's apiVersion/kind/metadata are the API server's business, not the CRD's.
        root = {**schema, "properties": {**schema.get("properties", {}), "metadata": {"type": "object"}}}
        _VALIDATORS[key] = (schema, jsonschema.Draft7Validator(_strict(root) if strict else root))
    return _VALIDATORS[key][1]


def field_path(parts) -> str:
    """jsonschema's path deque -> the API server's 'spec.groups[0].name' form."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def schema_causes(schema: dict, obj: dict, *, strict: bool = False) -> list[dict]:
    """The API server's 422 causes ({reason, message, field}) for `obj` against a CRD schema."""
    causes = []
    for err in sorted(_validator(schema, strict).iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = list(err.absolute_path)
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else "?"
            causes.append({"reason": "FieldValueRequired", "message": "Required value",
                           "field": field_path(path + [missing])})
        elif err.validator == "additionalProperties":
            extra = re.findall(r"'([^']+)'", err.message)
            for name in extra or ["?"]:
                causes.append({"reason": "FieldValueInvalid", "message": f'unknown field "{name}"',
                               "field": field_path(path + [name])})
        elif err.validator == "type":
            got = type(err.instance).__name__.replace("dict", "object").replace("str", "string").replace("list", "array")
            f = field_path(path)
            causes.append({"reason": "FieldValueTypeInvalid",
                           "message": f'Invalid value: "{got}": {f} in body must be of type {err.validator_value}: "{got}"',
                           "field": f})
        else:
            causes.append({"reason": "FieldValueInvalid", "message": f"Invalid value: {err.message}",
                           "field": field_path(path)})
    return causes


def cause_text(c: dict) -> str:
    return f"{c['field']}: {c['message']}"


def validate_custom_resources(path: str | Path, docs: list[dict],
                              schemas: dict[tuple[str, str], dict] | None = None) -> None:
    """BadInput naming the file, object and field when a custom resource breaks its CRD schema.

    A kind in a CRD-served group we have no schema for is refused too: applying what we
    cannot check is how a typo'd apiVersion reaches production.
    """
    schemas = vendored_schemas() if schemas is None else schemas
    groups = {split_api_version(av)[0] for av, _ in schemas}
    for d in docs:
        key = (d["apiVersion"], d["kind"])
        group = split_api_version(d["apiVersion"])[0]
        if key not in schemas:
            if group in groups:
                raise BadInput(f"{path}: {ref(d)}: no CRD serves {d['kind']} in {d['apiVersion']}",
                               hint=f"served: {', '.join(sorted(f'{k} {av}' for av, k in schemas))}")
            continue
        causes = schema_causes(schemas[key], d, strict=True)
        if causes:
            raise BadInput(f"{path}: {ref(d)} is invalid: " + "; ".join(cause_text(c) for c in causes[:5]),
                           hint="fix the manifest; nothing was applied", details={"causes": causes})
