"""The appconfigdata side of the sandbox's AppConfig state: sessions, their tokens (each used
once), the minimum poll interval compressed like strategy minutes, and which deployment's
content a session sees right now (a DEPLOYING one only for the sessions in its bucket).
Mixed into `AppConfigState`, which holds the environments, deployments and the lock."""
from __future__ import annotations

import secrets
import threading
from typing import Any, Callable

from cato_sandbox.appconfig_model import (DEFAULT_POLL_INTERVAL_S, BadRequest, Deployment, Environment, NotFound,
                                          Session, session_bucket)


class DataSessions:
    # What AppConfigState provides.
    lock: threading.RLock
    clock: Callable[[], float]
    minute_seconds: float
    envs: dict[str, Environment]
    sessions: dict[str, Session]
    tokens: dict[str, str | None]

    def state_of(self, d: Deployment, now: float | None = None) -> tuple[str, float]:
        raise NotImplementedError

    def _env(self, app_id: str, env_ident: str, by_name: bool = False) -> Environment:
        raise NotImplementedError

    def served(self, env_id: str, profile_id: str, session_id: str) -> Deployment | None:
        """The deployment whose content a session sees right now (None: nothing deployed)."""
        with self.lock:
            env = self.envs.get(env_id)
            for d in reversed(env.deployments if env else []):
                if d.profile_id != profile_id:
                    continue
                state, pct = self.state_of(d)
                if state in ("COMPLETE", "BAKING") or (
                        state == "DEPLOYING" and session_bucket(session_id) < pct):
                    return d
            return None

    def start_session(self, app_id: str, env_ident: str, profile_id: str,
                      min_poll: int | None = None) -> str:
        if min_poll is not None and not 15 <= int(min_poll) <= 86400:
            raise BadRequest("RequiredMinimumPollIntervalInSeconds must be between 15 and 86400",
                             Reason="InvalidParameters")
        with self.lock:
            try:
                env = self._env(app_id, env_ident, by_name=True)
            except NotFound as e:
                e.extra["ResourceType"] = "Environment"
                raise
            s = Session(secrets.token_hex(16), app_id, env.id, profile_id, min_poll)
            self.sessions[s.id] = s
            token = secrets.token_urlsafe(48)
            self.tokens[token] = s.id
            return token

    def get_latest(self, token: str) -> dict[str, Any]:
        """Body, headers and the next token for GetLatestConfiguration.

        The minimum poll interval, when a session asked for one, is enforced compressed like
        strategy minutes: ``seconds * minute_seconds / 60`` real seconds.
        """
        with self.lock:
            if token not in self.tokens:
                raise self._bad_token("Corrupted")
            sid = self.tokens[token]
            if sid is None or sid not in self.sessions:
                raise self._bad_token("Expired")
            s, now = self.sessions[sid], self.clock()
            if s.min_poll and s.last_poll is not None and \
                    now - s.last_poll < s.min_poll * self.minute_seconds / 60.0:
                raise self._bad_token("PollIntervalNotSatisfied")
            self.tokens[token] = None
            s.last_poll = now
            next_token = secrets.token_urlsafe(48)
            self.tokens[next_token] = s.id
            out: dict[str, Any] = {"NextPollConfigurationToken": next_token,
                                   "NextPollIntervalInSeconds": s.min_poll or DEFAULT_POLL_INTERVAL_S,
                                   "Configuration": b"", "ContentType": "application/octet-stream",
                                   "VersionLabel": None}
            d = self.served(s.env_id, s.profile_id, s.id)
            if d is None:
                return out
            out["ContentType"] = d.content_type
            key = (d.version, d.content)
            if key != s.last_key:
                s.last_key = key
                out["Configuration"], out["VersionLabel"] = d.content, d.version
            return out

    @staticmethod
    def _bad_token(problem: str) -> BadRequest:
        return BadRequest(f"Invalid ConfigurationToken ({problem})", Reason="InvalidParameters",
                          Details={"InvalidParameters": {"ConfigurationToken": {"Problem": problem}}})
