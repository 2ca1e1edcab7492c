"""Patch formats and server-side apply field ownership (pure functions on JSON values).

Simplifications, named: a list whose items are all objects with a `name` is treated as a
map keyed by name (containers, env, ports, volumes, workerGroupSpecs is not: it has
`groupName`); every other list is atomic. Field paths are tuples of keys, with
`("k", name)` for an item of a named list.
"""
from __future__ import annotations

import copy

from cato_sandbox.kube_api.status import ApiError

_MISSING = object()


# --- RFC 7386 merge patch and strategic merge ---------------------------------------------

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _named(lst) -> bool:
    return isinstance(lst, list) and bool(lst) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in lst)


def strategic_merge(target, patch):
    """Merge patch, but lists of named objects merge item by item (`$patch: delete` removes one)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif _named(v) and isinstance(out.get(k), list):
            items = {i.get("name"): i for i in out[k] if isinstance(i, dict)}
            order = [i.get("name") for i in out[k] if isinstance(i, dict)]
            for item in v:
                if item.get("$patch") == "delete":
                    items.pop(item["name"], None)
                    continue
                if item["name"] not in items:
                    order.append(item["name"])
                items[item["name"]] = strategic_merge(items.get(item["name"]), item)
            out[k] = [items[n] for n in order if n in items]
        else:
            out[k] = strategic_merge(out.get(k), v)
    return out


# --- RFC 6902 JSON patch --------------------------------------------------------------------

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    for p in parts:
        if isinstance(doc, list):
            doc = doc[int(p)]
        elif isinstance(doc, dict):
            doc = doc[p]
        else:
            raise KeyError(p)
    return doc


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise ApiError(400, "json patch body must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind == "test":
                if _walk(doc, parts) != op["value"]:
                    raise ApiError(422, f"the server rejected our request due to an error in our request: "
                                        f"testing value {op['path']} failed")
                continue
            if kind in ("move", "copy"):
                src = _pointer(op["from"])
                value = copy.deepcopy(_walk(doc, src))
                if kind == "move":
                    doc = _remove(doc, src)
            elif kind == "remove":
                doc = _remove(doc, parts)
                continue
            else:
                value = copy.deepcopy(op["value"])
            if not parts:
                doc = value
                continue
            parent, last = _walk(doc, parts[:-1]), parts[-1]
            if isinstance(parent, list):
                if kind == "replace":
                    parent[int(last)] = value
                else:
                    parent.insert(len(parent) if last == "-" else int(last), value)
            else:
                if kind == "replace" and last not in parent:
                    raise KeyError(last)
                parent[last] = value
        except ApiError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, f"the server rejected our request due to an error in our request: "
                                f"{op.get('op')} {op.get('path')}: {exc!r}") from exc
    return doc


def _remove(doc, parts):
    if not parts:
        return None
    parent = _walk(doc, parts[:-1])
    if isinstance(parent, list):
        del parent[int(parts[-1])]
    else:
        del parent[parts[-1]]
    return doc


# --- field paths and server-side apply ------------------------------------------------------

def leaf_paths(obj, prefix: tuple = ()) -> dict[tuple, object]:
    """Owned leaves: every scalar, atomic list or empty object, by path."""
    out: dict[tuple, object] = {}
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            out.update(leaf_paths(v, prefix + (k,)))
    elif _named(obj):
        for item in obj:
            out.update(leaf_paths(item, prefix + (("k", item["name"]),)))
    else:
        out[prefix] = obj
    return out


def owned_leaves(obj: dict, *, status: bool = False) -> dict[tuple, object]:
    """Leaves a manager can own: spec-like content, labels and annotations; status only for status writes."""
    out = {}
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if k == "metadata":
            for mk in ("labels", "annotations"):
                if isinstance(v, dict) and v.get(mk):
                    out.update(leaf_paths(v[mk], ("metadata", mk)))
        elif (k == "status") == status:
            out.update(leaf_paths(v, (k,)))
    return out


def get_at(obj, path):
    for p in path:
        if isinstance(p, tuple):
            obj = next((i for i in obj if isinstance(i, dict) and i.get("name") == p[1]), _MISSING) \
                if isinstance(obj, list) else _MISSING
        else:
            obj = obj.get(p, _MISSING) if isinstance(obj, dict) else _MISSING
        if obj is _MISSING:
            return _MISSING
    return obj


def delete_at(obj, path) -> None:
    parent = get_at(obj, path[:-1])
    last = path[-1]
    if isinstance(last, tuple) and isinstance(parent, list):
        parent[:] = [i for i in parent if not (isinstance(i, dict) and i.get("name") == last[1])]
    elif isinstance(parent, dict):
        parent.pop(last, None)
        # A named-list item emptied of everything but its name goes too.
        if len(path) >= 2 and isinstance(path[-2], tuple) and set(parent) <= {"name"}:
            delete_at(obj, path[:-1])


def render_path(path) -> str:
    """A field path as the API prints it in conflicts: '.spec.replicas', '.spec.containers[name="x"].image'."""
    out = ""
    for p in path:
        out += f'[name="{p[1]}"]' if isinstance(p, tuple) else f".{p}"
    return out


def fields_v1(paths) -> dict:
    """managedFields' FieldsV1 trie ('f:spec' / 'k:{"name":"x"}')."""
    root: dict = {}
    for path in paths:
        node = root
        for p in path:
            key = f'k:{{"name":"{p[1]}"}}' if isinstance(p, tuple) else f"f:{p}"
            node = node.setdefault(key, {})
    return root


def _overlaps(a: tuple, b: tuple) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def apply_merge(live, applied):
    """Merge an applied configuration into the live object (named lists merge by name)."""
    if not isinstance(applied, dict) or not isinstance(live, dict):
        if _named(applied) and isinstance(live, list):
            items = {i.get("name"): i for i in live if isinstance(i, dict)}
            order = [i.get("name") for i in live if isinstance(i, dict)]
            for item in applied:
                if item["name"] not in items:
                    order.append(item["name"])
                items[item["name"]] = apply_merge(items.get(item["name"], {}), item)
            return [items[n] for n in order]
        return copy.deepcopy(applied)
    out = dict(live)
    for k, v in applied.items():
        out[k] = apply_merge(out.get(k), v) if k in out else copy.deepcopy(v)
    return out


def conflicts(live: dict, applied_leaves: dict, managers: dict, me: tuple) -> list[tuple[tuple, tuple]]:
    """(other manager key, path) for each applied leaf whose live value another manager owns and differs."""
    found = []
    for path, value in applied_leaves.items():
        if get_at(live, path) == value:
            continue
        for key, entry in managers.items():
            if key != me and any(_overlaps(path, q) for q in entry["paths"]):
                found.append((key, path))
    return found


def disown(managers: dict, paths, keep: tuple | None = None) -> None:
    for key, entry in managers.items():
        if key != keep:
            entry["paths"] = {q for q in entry["paths"] if not any(_overlaps(q, p) for p in paths)}
