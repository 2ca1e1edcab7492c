"""Label and field selectors, as the API server reads them (?labelSelector=, ?fieldSelector=)."""
from __future__ import annotations


def label_match(labels: dict, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_match(obj: dict, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        k, _, v = term.replace("==", "=").partition("=")
        got = {"metadata.name": obj["metadata"].get("name"), "metadata.namespace": obj["metadata"].get("namespace")}.get(k)
        if got != v:
            return False
    return True
