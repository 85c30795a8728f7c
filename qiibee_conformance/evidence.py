"""One request and its response as a finding shows it: redacted, with a curl line to replay it.

A leaf module: the client records these, the findings carry them, the reports render them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Exchange:
    """One request and its response, already redacted."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None
    response_headers: dict[str, str]
    response_body: str
    elapsed_ms: float
    error: str | None = None

    def curl(self) -> str:
        parts = ["curl", "-i", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.request_headers.items():
            if name.lower() in {"user-agent", "accept-encoding", "connection", "content-length"}:
                continue
            if name.lower() == "x-api-key":
                parts += ["-H", f'"{name}: $QIIBEE_API_KEY"']
                continue
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.request_body is not None:
            parts += ["--data-raw", shlex.quote(self.request_body)]
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": self.request_headers,
                "body": self.request_body,
            },
            "response": {
                "status": self.status,
                "headers": self.response_headers,
                "body": self.response_body,
                "elapsed_ms": round(self.elapsed_ms, 1),
            },
            "error": self.error,
            "curl": self.curl(),
        }


