"""The edge's view of the traffic flag: polls appconfigdata like an AppConfig agent would.

StartConfigurationSession once, then GetLatestConfiguration with the token each answer hands
back, about every `interval_s`. An empty body means "unchanged since your last poll", so the last
value is kept. Until a flag has been read (application/environment not created yet, nothing
deployed) the split is 0%; a missing or disabled flag is 0% (DESIGN.md section 5). When a poll
fails, the last value read stays in force (what the AppConfig agent does) and the failure is
counted; the session is started afresh on the next poll.

The sandbox layer does not check signatures; the Authorization header only carries the region
in its credential scope, which is how the layer (like AWS) picks the regional state. In a
cluster the edge reads the flag from the AWS AppConfig Agent sidecar instead (`AgentFlagPoller`:
plain HTTP on localhost:2772, the agent signs and caches), so the edge needs no AWS SDK.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import aiohttp

from cato_migrate.adapters.appconfig import parse_flag

log = logging.getLogger("cato.gateway.flag")


@dataclass
class FlagTarget:
    data_url: str
    application: str
    environment: str
    profile: str
    flag: str
    region: str = "us-east-1"


class FlagPoller:
    def __init__(self, target: FlagTarget, interval_s: float = 0.5):
        self.target, self.interval_s = target, interval_s
        self.percentage = 0
        self.version: str | None = None
        self.errors = 0
        self.last_error: str | None = None
        self._token: str | None = None

    def _headers(self) -> dict[str, str]:
        scope = f"sandbox/20260101/{self.target.region}/appconfig/aws4_request"
        return {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
                "Content-Type": "application/json"}

    async def poll_once(self, session: aiohttp.ClientSession) -> None:
        """One GetLatestConfiguration (starting a session first if needed); raises on failure."""
        t, base = self.target, self.target.data_url.rstrip("/")
        timeout = aiohttp.ClientTimeout(total=5)
        if self._token is None:
            body = {"ApplicationIdentifier": t.application, "EnvironmentIdentifier": t.environment,
                    "ConfigurationProfileIdentifier": t.profile}
            async with session.post(f"{base}/configurationsessions", json=body, headers=self._headers(),
                                    timeout=timeout) as r:
                if r.status == 404:  # nothing created yet: no flag, 0%
                    self.percentage, self.version = 0, None
                    return
                if r.status >= 300:
                    raise RuntimeError(f"StartConfigurationSession answered {r.status}: {(await r.text())[:200]}")
                self._token = (await r.json())["InitialConfigurationToken"]
        async with session.get(f"{base}/configuration", params={"configuration_token": self._token},
                               headers=self._headers(), timeout=timeout) as r:
            if r.status >= 300:
                self._token = None
                raise RuntimeError(f"GetLatestConfiguration answered {r.status}: {(await r.text())[:200]}")
            self._token = r.headers.get("Next-Poll-Configuration-Token")
            raw = await r.read()
            if raw:
                self.version = r.headers.get("Version-Label")
                spec = parse_flag(t.flag, json.loads(raw))
                self.percentage = spec.effective_percentage if spec else 0

    async def run(self, session: aiohttp.ClientSession) -> None:
        while True:
            try:
                await self.poll_once(session)
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep the last value, count, and retry with a new session
                self.errors += 1
                self._token = None
                if str(exc) != self.last_error:
                    log.warning("flag poll failed (keeping %s%%): %s", self.percentage, exc)
                self.last_error = str(exc)
            await asyncio.sleep(self.interval_s)


class AgentFlagPoller(FlagPoller):
    """The same poller reading the AWS AppConfig Agent (sidecar) instead of appconfigdata.

    `GET {agent}/applications/{app}/environments/{env}/configurations/{profile}` answers the
    evaluated flags (`{"use_new_orchestrator": {"enabled": true, "percentage": 10}}`); the agent
    does the session, token and polling itself. 404 = nothing deployed yet: 0%.
    """

    async def poll_once(self, session: aiohttp.ClientSession) -> None:
        t = self.target
        url = (f"{t.data_url.rstrip('/')}/applications/{t.application}/environments/{t.environment}"
               f"/configurations/{t.profile}")
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as r:
            if r.status == 404:
                self.percentage, self.version = 0, None
                return
            if r.status >= 300:
                raise RuntimeError(f"the AppConfig agent answered {r.status}: {(await r.text())[:200]}")
            raw = await r.read()
            self.version = r.headers.get("Configuration-Version")
            spec = parse_flag(t.flag, json.loads(raw)) if raw else None
            self.percentage = spec.effective_percentage if spec else 0
