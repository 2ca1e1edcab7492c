"""The API server's `Status` bodies, as the real one sends them."""
from __future__ import annotations

_REASONS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
            415: "UnsupportedMediaType", 422: "Invalid", 500: "InternalError"}


class ApiError(Exception):
    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code, self.message = code, message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details

    def body(self) -> dict:
        out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            out["details"] = self.details
        return out


def _details(rt, name: str) -> dict:
    d = {"name": name, "kind": rt.plural}
    if rt.group:
        d["group"] = rt.group
    return d


def not_found(rt, name: str) -> ApiError:
    return ApiError(404, f'{rt.group_resource} "{name}" not found', details=_details(rt, name))


def namespace_not_found(name: str) -> ApiError:
    return ApiError(404, f'namespaces "{name}" not found', details={"name": name, "kind": "namespaces"})


def already_exists(rt, name: str) -> ApiError:
    return ApiError(409, f'{rt.group_resource} "{name}" already exists', "AlreadyExists", _details(rt, name))


def modified(rt, name: str) -> ApiError:
    return ApiError(409, f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has been '
                         "modified; please apply your changes to the latest version and try again",
                    "Conflict", _details(rt, name))


def invalid(rt, name: str, causes: list[dict]) -> ApiError:
    texts = [f"{c['field']}: {c['message']}" for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    what = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    return ApiError(422, f'{what} "{name}" is invalid: {joined}',
                    "Invalid", {**_details(rt, name), "kind": rt.kind, "causes": causes})


def apply_conflict(rt, name: str, conflicts: list[tuple[str, str]], api_version: str) -> ApiError:
    causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}" using {api_version}', "field": f}
              for m, f in conflicts]
    lines = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
    n = len(causes)
    return ApiError(409, f"Apply failed with {n} conflict{'s' if n > 1 else ''}: "
                         + (f"{causes[0]['message']}: {causes[0]['field']}" if n == 1 else f"\n{lines}"),
                    "Conflict", {**_details(rt, name), "causes": causes})


def unsupported_patch(accepted: list[str]) -> ApiError:
    return ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                         + ", ".join(accepted))


def success(rt, name: str, uid: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {**_details(rt, name), "uid": uid}}
