"""Headless Chromium for the report page's browser test and docs/report.png (Debian's `chromium`).

Run with no sandbox (CI runs as root), no GPU, a throwaway profile, every proxy pointed at a
closed loopback port and every host name unresolvable: a page that tried to load anything from
anywhere would get nothing, and the test reads the rendered DOM for what it holds."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome")


def find() -> str | None:
    return next((p for p in map(shutil.which, NAMES) if p), None)


def _closed_port() -> int:
    with socket.socket() as s:  # bound then closed: nothing listens there afterwards
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(page: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    exe = find()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="cato-chromium-") as profile:
        cmd = [exe, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{_closed_port()}",
               "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", *args, page.resolve().as_uri()]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={"HOME": profile, "PATH": "/usr/bin:/bin"})


def dump_dom(page: Path) -> str:
    res = run(page, "--dump-dom")
    if res.returncode != 0:
        raise RuntimeError(f"chromium --dump-dom exited {res.returncode}: {res.stderr[-2000:]}")
    return res.stdout


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 2400) -> Path:
    res = run(page, f"--screenshot={out.resolve()}", f"--window-size={width},{height}")
    if res.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium --screenshot exited {res.returncode}: {res.stderr[-2000:]}")
    return out


_LOADS = re.compile(r"<(script|link|img|iframe|object|embed|base|video|audio|source)\b|\s(src|href|srcset|xlink:href|"
                    r"action|poster)\s*=|url\(|@import", re.I)


def loads_anything(dom: str) -> list[str]:
    """What in a rendered DOM could make the browser fetch something (empty: nothing)."""
    return [m.group(0).strip() for m in _LOADS.finditer(dom)]
