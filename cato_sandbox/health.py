"""Health checks for the sandbox's processes: raw sockets and urllib, so importing stays cheap."""
from __future__ import annotations

import socket
import urllib.error
import urllib.request
from typing import Callable

HOST = "127.0.0.1"

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxies


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """HTTP status of GET `url`, or None if nothing answered."""
    try:
        with _OPENER.open(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return None


def http_answers(path: str, ok: Callable[[int], bool] = lambda code: code < 500):
    """A health check: GET url+path answers with a status `ok` accepts."""
    def check(url: str, port: int) -> bool:
        code = http_status(url.rstrip("/") + path)
        return code is not None and ok(code)
    return check


def redis_ping(url: str, port: int, timeout: float = 1.0) -> bool:
    """True if a RESP PING on 127.0.0.1:port gets +PONG."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def tcp_open(url: str, port: int, timeout: float = 0.5) -> bool:
    """Fallback health check: something accepts TCP connections on the port."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False
