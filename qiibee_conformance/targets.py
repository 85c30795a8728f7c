"""Which targets a destructive run may touch.

Certification and load runs create users, credit points and exchange them, so
they are refused against anything that does not look like a sandbox unless the
operator says so explicitly. Only loopback hosts and hostnames that announce a
non-production environment pass by default.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from qiibee_conformance.errors import RunError

SANDBOX_MARKERS: tuple[str, ...] = (
    "sandbox", "staging", "stage", "test", "testing", "qa", "uat", "localhost", "mock", "dev",
)
# A marker counts as a whole name part (between dots or dashes, digits allowed after it):
# "api-sandbox.example.com" and "dev2.example.com" pass, "latest.example.com" and
# "devices.example.com" do not.
_MARKER_RE = re.compile(rf"(?:^|[.-])(?:{'|'.join(SANDBOX_MARKERS)})[0-9]*(?:$|[.-])")


def validate_url(url: str) -> str:
    """Return ``url`` without a trailing slash, or raise RunError if it cannot be a target."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError as err:
        raise RunError(f"invalid target URL {text!r}: {err}") from None
    if parts.scheme not in {"http", "https"}:
        raise RunError(f"invalid target URL {text!r}: the scheme must be http or https")
    if not parts.hostname:
        raise RunError(f"invalid target URL {text!r}: no host")
    if parts.username or parts.password:
        raise RunError("invalid target URL: credentials in the URL are not supported; use --api-key")
    if parts.query or parts.fragment:
        raise RunError(f"invalid target URL {text!r}: a base URL has no query or fragment")
    del port
    return text.rstrip("/")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_sandbox_like(host: str) -> bool:
    return _MARKER_RE.search(host.lower()) is not None


def ensure_safe_target(url: str, *, allow_any: bool) -> None:
    """Raise RunError unless ``url`` is valid and loopback, sandbox-like, or ``allow_any``."""
    host = urlsplit(validate_url(url)).hostname or ""
    if allow_any or is_loopback(host) or is_sandbox_like(host):
        return
    raise RunError(
        f"refusing to run against {host!r}: it is neither loopback nor a sandbox-like host "
        f"(a name part such as {', '.join(SANDBOX_MARKERS)}); this run writes data and spends "
        "points, pass --allow-non-sandbox if that is really intended"
    )
