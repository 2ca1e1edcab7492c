"""HTTP front of the stand-in: URL routing, content types, status codes."""
from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cato_sandbox.kube_api.status import ApiError
from cato_sandbox.kube_api.store import Cluster

VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-cato-standin", "gitCommit": "", "gitTreeState": "clean",
           "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "KubeApiServer"

    def log_message(self, fmt, *args):  # quiet: tests read the bodies, not the access log
        if self.server.verbose:
            sys.stderr.write("kube-api: " + fmt % args + "\n")

    def _send(self, code: int, body: dict, warnings: list[str] = ()) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for w in warnings:
            self.send_header("Warning", f'299 - "{w}"'.replace('\\"', "'"))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if not raw:
            return None, ctype
        try:
            if ctype == "application/apply-patch+yaml" and raw.lstrip()[:1] != b"{":
                import yaml

                return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), ctype
            return json.loads(raw), ctype  # JSON is YAML: clients usually send JSON even for apply
        except Exception as exc:  # noqa: BLE001 - any undecodable body is the client's 400
            raise ApiError(400, f"the body of the request could not be decoded: {exc}") from exc

    def _handle(self, method: str) -> None:
        try:
            code, body, warnings = self._route(method)
            self._send(code, body, warnings)
        except ApiError as err:
            self._send(err.code, err.body())
        except Exception as exc:  # noqa: BLE001 - a bug here must still answer like an API server
            self._send(500, ApiError(500, f"stand-in error: {exc!r}").body())

    do_GET = lambda self: self._handle("GET")  # noqa: E731
    do_POST = lambda self: self._handle("POST")  # noqa: E731
    do_PUT = lambda self: self._handle("PUT")  # noqa: E731
    do_PATCH = lambda self: self._handle("PATCH")  # noqa: E731
    do_DELETE = lambda self: self._handle("DELETE")  # noqa: E731

    def _route(self, method: str):
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        cluster = self.server.cluster
        body, ctype = self._body() if method in ("POST", "PUT", "PATCH") else (None, "")
        with cluster.lock:
            cluster.reconcile()
            reg = cluster.registry
            if method == "GET":
                doc = self._discovery(parts)
                if doc is not None:
                    return 200, doc, []
            if parts[:1] == ["api"] and len(parts) >= 2:
                group, version, rest = "", parts[1], parts[2:]
            elif parts[:1] == ["apis"] and len(parts) >= 3:
                group, version, rest = parts[1], parts[2], parts[3:]
            else:
                raise ApiError(404, "the server could not find the requested resource")
            ns, plural, name, sub = _split(rest)
            rt = reg.lookup(group, version, plural or "")
            if rt is None or (ns is not None and not rt.namespaced):
                raise ApiError(404, "the server could not find the requested resource")
            if q.get("watch", "").lower() in ("true", "1"):
                raise ApiError(405, "watch is not supported by this stand-in", "MethodNotAllowed")
            if sub and sub not in rt.subresources:
                raise ApiError(404, "the server could not find the requested resource")
            ns = ns or ""
            manager = q.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0][:128]
            dry = q.get("dryRun") == "All"
            fv = q.get("fieldValidation", "")
            if name is None:
                if method == "GET":
                    return 200, cluster.list(rt, ns or None, q.get("labelSelector", ""), q.get("fieldSelector", "")), []
                if method == "POST":
                    obj, w = cluster.create(rt, ns, body, manager, dry_run=dry, field_validation=fv)
                    return 201, obj, w
                raise ApiError(405, f"{method} is not allowed on a collection", "MethodNotAllowed")
            if sub == "scale":
                if method == "GET":
                    return 200, cluster.get_scale(rt, ns, name), []
                if method in ("PUT", "PATCH"):
                    return 200, cluster.write_scale(rt, ns, name, body or {}, ctype if method == "PATCH" else None,
                                                    manager, dry_run=dry), []
                raise ApiError(405, f"{method} is not allowed on scale", "MethodNotAllowed")
            if method == "GET":
                return 200, cluster.get(rt, ns, name), []
            if method == "PUT":
                if not isinstance(body, dict):
                    raise ApiError(400, "the body of the request must be a JSON object")
                obj, w = cluster.replace(rt, ns, name, body, manager, subresource=sub or "", field_validation=fv, dry_run=dry)
                return 200, obj, w
            if method == "PATCH":
                existed = cluster._key(rt, ns, name) in cluster.objects
                if ctype == "application/apply-patch+yaml":
                    manager = q.get("fieldManager", "")  # apply names its manager; no User-Agent default
                obj, w = cluster.patch(rt, ns, name, body, ctype, manager, force=q.get("force", "").lower() in ("true", "1"),
                                       subresource=sub or "", field_validation=fv, dry_run=dry)
                return (200 if existed else 201), obj, w
            if method == "DELETE":
                return 200, cluster.delete(rt, ns, name), []
            raise ApiError(405, f"{method} is not allowed", "MethodNotAllowed")

    def _discovery(self, parts: list[str]):
        reg = self.server.cluster.registry
        if parts == ["version"]:
            return VERSION
        if parts == ["api"]:
            return reg.api_versions(f"{self.server.server_address[0]}:{self.server.server_address[1]}")
        if parts == ["api", "v1"]:
            return reg.resource_list("", "v1")
        if parts == ["apis"]:
            return reg.group_list()
        if len(parts) == 2 and parts[0] == "apis":
            return _or_404(reg.group(parts[1]))
        if len(parts) == 3 and parts[0] == "apis":
            return _or_404(reg.resource_list(parts[1], parts[2]))
        return None


def _or_404(doc):
    if doc is None:
        raise ApiError(404, "the server could not find the requested resource")
    return doc


def _split(rest: list[str]):
    """-> (namespace or None, plural, name or None, subresource or None)."""
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        ns, rest = rest[1], rest[2:]
    else:
        ns = None
    plural = rest[0] if rest else None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if len(rest) > 3:
        raise ApiError(404, "the server could not find the requested resource")
    return ns, plural, name, sub


class KubeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, cluster: Cluster, verbose: bool = False):
        super().__init__(addr, _Handler)
        self.cluster, self.verbose = cluster, verbose


def make_server(host: str = "127.0.0.1", port: int = 0, *, deployment_delay: float = 0.5,
                rayservice_delay: float = 1.0, verbose: bool = False) -> KubeApiServer:
    """A bound server (port 0: any free port); run it with serve_forever() in a thread."""
    return KubeApiServer((host, port), Cluster(deployment_delay=deployment_delay, rayservice_delay=rayservice_delay),
                         verbose=verbose)


def serve(host: str, port: int, **kw) -> None:
    srv = make_server(host, port, **kw)
    print(f"kube-api stand-in on http://{host}:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
