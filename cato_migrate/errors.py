"""The one error tree. Every branch maps to a documented exit code.

    CatoError                      exit 1   (base; never raised directly)
    ├── CheckFailed                exit 1   an exit criterion or verification failed
    ├── BadInput                   exit 2   bad argument/config/runbook; nothing changed
    │   └── RunbookError           exit 2   runbook file invalid (names file, line, field)
    ├── Locked                     exit 3   another mutating command holds the lock
    ├── ExternalError              exit 4   an external system failed after retries
    ├── Unverified                 exit 5   a change was made but could not be verified;
    │                                       the message says the state and what to run next
    └── NotProven                  exit 6   a watch ended without proof either way: a trigger
                                            was still waiting (too little traffic) or unmeasured

Messages are written for an on-call engineer at night: what happened, and what to do.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3
EXIT_EXTERNAL = 4
EXIT_UNVERIFIED = 5
EXIT_NOT_PROVEN = 6

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 a check failed; 2 bad input (nothing changed); 3 locked; "
    "4 an external system failed after retries; 5 a change could not be verified "
    "(the message says what state things are in and what to run next); 6 not proven (a watch ended with "
    "a trigger waiting for traffic or unmeasured)."
)


class CatoError(Exception):
    exit_code = EXIT_CHECK_FAILED

    def __init__(self, message: str, *, hint: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}

    def to_dict(self) -> dict:
        out = {"error": type(self).__name__, "message": self.message, "exit_code": self.exit_code}
        if self.hint:
            out["hint"] = self.hint
        if self.details:
            out["details"] = self.details
        return out


class CheckFailed(CatoError):
    exit_code = EXIT_CHECK_FAILED


class BadInput(CatoError):
    exit_code = EXIT_BAD_INPUT


class RunbookError(BadInput):
    pass


class Locked(CatoError):
    exit_code = EXIT_LOCKED


class ExternalError(CatoError):
    exit_code = EXIT_EXTERNAL


class Unverified(CatoError):
    exit_code = EXIT_UNVERIFIED


class NotProven(CatoError):
    """Nothing failed, and nothing was shown healthy either (`canary watch --for` ended waiting/unmeasured)."""

    exit_code = EXIT_NOT_PROVEN


class Conflict(ExternalError):
    """The external system refused because something else is in flight (AppConfig 409)."""


class NotFound(ExternalError):
    """The external system does not have what was named."""
