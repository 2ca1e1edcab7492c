"""Notification channels: a Slack-compatible incoming webhook and a generic JSON webhook (stdlib urllib, adapters/http.open_url).

The URL is a secret (whoever has it can post to the channel). It is read from the secret file
(`notify_*_url_file`) or the setting, only when a delivery is made, and leaves this module only
as `redact_url(url)`: error messages are scrubbed of it, nothing journals or audits it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cato_migrate.adapters import http
from cato_migrate.core.notify import PAYLOADS, redact_url
from cato_migrate.core.notify_events import NotifyEvent
from cato_migrate.errors import ExternalError

CHANNELS = ("slack", "webhook")


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    url_setting: str
    file: Path | None

    def source(self) -> str:
        return f"file {self.file}" if self.file else f"setting notify_{self.name}_url"

    def url(self) -> str:
        """Read at delivery time, so a rotated secret file is picked up by the next flush."""
        if self.file is not None:
            try:
                url = self.file.read_text().strip()
            except OSError as exc:
                raise ExternalError(f"cannot read the {self.name} URL file {self.file}: {exc.strerror}",
                                    hint=f"check notify_{self.name}_url_file") from None
        else:
            url = self.url_setting.strip()
        if not url.startswith(("https://", "http://")):
            raise ExternalError(f"the {self.name} URL from {self.source()} is not an http(s) URL",
                                hint=f"check notify_{self.name}_url_file / notify_{self.name}_url")
        return url


def configured_channels(settings) -> dict[str, ChannelConfig]:
    """Channels set for this environment (whether their secret file reads is found out at delivery)."""
    out = {}
    for name in CHANNELS:
        value = getattr(settings, f"notify_{name}_url", "") or ""
        file = getattr(settings, f"notify_{name}_url_file", None)
        if value.strip() or file:
            out[name] = ChannelConfig(name, value, Path(file) if file else None)
    return out


def describe(cfg: ChannelConfig) -> dict:
    """What `notify status` shows: the redacted URL, or why it cannot be read."""
    try:
        shown, problem = redact_url(cfg.url()), ""
    except ExternalError as exc:
        shown, problem = "", exc.message
    return {"channel": cfg.name, "url": shown, "source": cfg.source(), "problem": problem}


def post_json(url: str, body: dict, timeout: float) -> None:
    """POST one JSON document; any non-2xx or network error is an ExternalError without the URL."""
    import urllib.request

    data = json.dumps(body, default=str).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "cato-migrate"})
    # the environment's proxy is honoured: webhooks are outside, often reached through one
    answer = http.open_url(req, timeout=timeout, what=redact_url(url), proxy=True, secret=url)
    http.answered(answer, redact_url(url), body=False, above=300)


def sender(cfg: ChannelConfig, timeout: float, post: Callable[[str, dict, float], None] = post_json):
    payload = PAYLOADS[cfg.name]

    def send(ev: NotifyEvent) -> None:
        post(cfg.url(), payload(ev), timeout)

    return send


def senders(settings) -> dict[str, Callable[[NotifyEvent], None]]:
    return {name: sender(cfg, settings.notify_timeout_seconds) for name, cfg in configured_channels(settings).items()}
