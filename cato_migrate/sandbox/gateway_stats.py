"""The gateway's counters and their Prometheus text exposition (pure; no I/O).

Series (every stack's series is always present, so a scrape never reads an absent series as 0):

    cato_gateway_in_flight{stack="legacy|new"}                      gauge
    cato_gateway_requests_total{stack="legacy|new",outcome="ok|error"}  counter
    cato_gateway_flag_percentage                                    gauge (the split in force)
    cato_gateway_flag_poll_errors_total                             counter

An "error" is a request the chosen stack failed: it was not running (503), could not be reached
or broke off (502), or answered 5xx. A 4xx is the client's fault and counts as "ok".
"""
from __future__ import annotations

from dataclasses import dataclass, field

STACKS = ("legacy", "new")
OUTCOMES = ("ok", "error")


@dataclass
class GatewayStats:
    in_flight: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STACKS})
    requests: dict[tuple[str, str], int] = field(
        default_factory=lambda: {(s, o): 0 for s in STACKS for o in OUTCOMES})
    flag_percentage: int = 0
    flag_poll_errors: int = 0

    def begin(self, stack: str) -> None:
        self.in_flight[stack] += 1

    def end(self, stack: str, outcome: str) -> None:
        self.in_flight[stack] -= 1
        self.requests[(stack, outcome)] += 1

    def refused(self, stack: str) -> None:
        """A request for a stack that is not running: an error, never in flight."""
        self.requests[(stack, "error")] += 1

    def exposition(self) -> str:
        lines = [
            "# HELP cato_gateway_in_flight Requests the gateway is forwarding now, per stack.",
            "# TYPE cato_gateway_in_flight gauge",
            *(f'cato_gateway_in_flight{{stack="{s}"}} {self.in_flight[s]}' for s in STACKS),
            "# HELP cato_gateway_requests_total Requests forwarded, per stack and outcome.",
            "# TYPE cato_gateway_requests_total counter",
            *(f'cato_gateway_requests_total{{stack="{s}",outcome="{o}"}} {self.requests[(s, o)]}'
              for s in STACKS for o in OUTCOMES),
            "# HELP cato_gateway_flag_percentage Share of users sent to the new stack now.",
            "# TYPE cato_gateway_flag_percentage gauge",
            f"cato_gateway_flag_percentage {self.flag_percentage}",
            "# HELP cato_gateway_flag_poll_errors_total Failed reads of the AppConfig flag.",
            "# TYPE cato_gateway_flag_poll_errors_total counter",
            f"cato_gateway_flag_poll_errors_total {self.flag_poll_errors}",
        ]
        return "\n".join(lines) + "\n"
