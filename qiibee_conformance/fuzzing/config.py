"""Which of schemathesis' checks judge each mode, and the schemathesis configuration of a run.

Only fail-level rules may fail here: a warn-level reading belongs to a business check,
which reports it as an advisory (DECISIONS D145, D146).
"""

from __future__ import annotations

from typing import Any, Literal

import schemathesis

from qiibee_conformance.client import API_KEY_HEADER
from qiibee_conformance.settings import Settings

Mode = Literal["positive", "negative", "stateful"]

# A fixed seed: the same target gives the same run, and a failure can be replayed.
SEED = 20220601

# Built-in checks and whether each mode uses them. Excluded, with the reason
# (restated in DECISIONS.md):
# - positive_data_acceptance: schema-valid input is still refused for documented
#   business reasons (unknown user → 404, insufficient balance → 400, ...).
# - unsupported_method: demands 405 for undocumented methods; a 404 is as good, and a 2xx
#   is only an advisory (ERR-03 is a business check).
# - missing_required_header: no operation declares a required header besides the
#   security scheme, which ignored_auth covers.
# - max_response_time: the documents set no latency; the load test owns SLOs.
# - object_level_authorization: needs two principals; the documents have one key.
# - allow_header_conformance: only meaningful with 405 + Allow, which is not required.
# - ignored_auth itself: its probes bypass the suite's transport, so a rate-limited probe
#   would read as "auth not enforced"; IGNORED_AUTH (below) runs it and lets that case pass.
IGNORED_AUTH = "ignored_auth_unless_rate_limited"
_ALL_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
    "ignored_auth",
    "object_level_authorization",
    "unsupported_method",
    "allow_header_conformance",
    IGNORED_AUTH,
)
CHECKS: dict[Mode, frozenset[str]] = {
    "positive": frozenset(
        {
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
            IGNORED_AUTH,
        }
    ),
    "negative": frozenset(
        {
            "not_a_server_error",
            "negative_data_rejection",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
        }
    ),
    "stateful": frozenset(
        {
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
            "use_after_free",
            "ensure_resource_availability",
        }
    ),
}

# Stateful runs are bounded so they take seconds: few scenarios, few steps each.
STATEFUL_MAX_STEPS = 8

# Statuses that are not a server error: schemathesis' defaults, plus a 503, which is tolerated
# with Retry-After (the spec declares the header required, so response_headers_conformance
# still fails a 503 without it). The transport waits both 429 and 503 + Retry-After out first.
NOT_A_SERVER_ERROR = ("2XX", "3XX", "4XX", "503")


_SECRET_KEYS = ("x-api-key", "x_api_key", "authorization", "proxy-authorization", "cookie", "set-cookie")


def build_config(settings: Settings, mode: Mode) -> schemathesis.Config:
    """The schemathesis configuration of one mode of a run against the settings' target."""
    generation_mode = "negative" if mode == "negative" else "positive"
    max_examples = max(1, settings.max_examples if mode != "stateful" else min(settings.max_examples, 15))
    data: dict[str, Any] = {
        "seed": SEED,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large", "large_base_example"],
        "base-url": settings.base,
        "headers": {API_KEY_HEADER: settings.api_key},
        "request-timeout": settings.request_timeout,
        "generation": {
            "mode": generation_mode,
            "max-examples": max_examples,
            # No .hypothesis/ directory in the user's working tree; a run is replayed by its seed.
            "database": "none",
        },
        "phases": {
            # Documented examples are valid input: they belong to the positive run only.
            "examples": {"enabled": mode == "positive"},
            "coverage": {"enabled": False},
            # Nothing addresses a user the run did not create (D179): no value is taken from
            # an answer (a user list shows other testers' users) and the state machine follows
            # only the spec's links, never links schemathesis infers (GET /users → DELETE
            # /users/{auth_id}/memberships/...), so the only user it learns of is one it made.
            "fuzzing": {"enabled": mode != "stateful", "extra-data-sources": {"responses": False}},
            "stateful": {
                "enabled": mode == "stateful",
                "max-steps": STATEFUL_MAX_STEPS,
                "inference": {"algorithms": []},
            },
        },
        "checks": {
            **{name: {"enabled": name in CHECKS[mode]} for name in _ALL_CHECKS},
            # Invalid input is "a 4xx", any of them; schemathesis' default list leaves out
            # 404, 410, 413, 414, ... (a 5xx is still not_a_server_error's finding).
            "negative_data_rejection": {
                "enabled": "negative_data_rejection" in CHECKS[mode],
                "expected-statuses": ["4XX", "5XX"],
            },
            "not_a_server_error": {
                "enabled": "not_a_server_error" in CHECKS[mode],
                "expected-statuses": list(NOT_A_SERVER_ERROR),
            },
        },
        "output": {
            "sanitization": {
                # The defaults also mask anything named *auth* or *token*, which hides
                # user_auth_id and token_id and makes the curl line useless. The key
                # itself is masked here and, by value, by the run's redactor.
                "keys-to-sanitize": list(_SECRET_KEYS),
                "sensitive-markers": ["secret", "password", "passwd", "credential", "api-key", "api_key"],
            }
        },
    }
    return schemathesis.Config.from_dict(data)
