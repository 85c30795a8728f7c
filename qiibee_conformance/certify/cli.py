"""Certify a target against the documented qiibee Users and Points Exchange APIs.

Runs the contract suite (business checks with requirement ids, schemathesis
over every operation, stateful sequences) against --target, or against the
embedded reference mock when no target is given, and writes a JSON, an HTML
and a JUnit XML report.

Verdicts: CONFORMS; CONFORMS WITH ADVISORIES (the project's readings where the
documents are silent were not met: reported with evidence, not a failure);
NONCONFORMING; INCOMPLETE (a prerequisite most checks stand on could not be met,
or the run could not be made).

Exit status: 0 the target conforms (advisories included, unless --strict); 1 at
least one requirement is broken (each finding is listed with a curl line to
reproduce it); 2 the run could not be made or is incomplete (unreachable target,
rejected key, bad config or flags, a malformed baseline, an unmet prerequisite),
with one line saying why. With --baseline, 1 only for findings the baseline does
not accept (the verdict itself is unchanged).
"""

from __future__ import annotations

import argparse

_EPILOG = """\
API key:
  --api-key KEY, or the QIIBEE_API_KEY environment variable (preferred: argv is
  visible to other users of the machine). The key never appears in the terminal
  output, the reports or error messages.

Config file (--config FILE, TOML, every key optional; see contracts/qiibee.example.toml):
  brand_id = "my_brand"        the brand's own id (enables MEM-06; else it is skipped)
  brand_token_id = 12          the brand's points token (default: found by probing credit_points)
  settle_timeout = 30          seconds an accepted exchange may stay pending
  request_timeout = 15         seconds per HTTP request
  max_examples = 50            schemathesis examples per operation
  burst_size = 24              parallel exchanges in the concurrency checks
  email_domain = "example.com" domain of the users the run creates
  strict = false               advisories count as failures (as --strict)
  [membership_numbers]         valid numbers per provider, for miles exchanges
  etihad = ["100014486294", "100014486283"]   (the documented sandbox numbers, the default)
  miles_and_more = ["..."]
  Command-line flags win over the file; unknown keys and wrong types are errors.

Safety:
  Certification creates users, credits points and exchanges them. A target whose
  host is neither loopback nor sandbox-like (a host name part such as sandbox,
  staging, test, qa, uat, mock or dev, e.g. api-sandbox.example.com) is refused
  unless --allow-non-sandbox is given.
  Everything the run creates carries its run id (printed at the start).

CI gate (see examples/ci/):
  --write-baseline FILE        record this run's failures and advisories as accepted (give each a
                               reason; optional expires: YYYY-MM-DD); exits as certify does
  --baseline FILE              accepted findings are reported as such; exit 1 only for the others
                               (advisories too with --strict); expired entries count again, entries
                               no longer found are listed as fixed; a malformed file is exit 2
  --markdown FILE              the verdict in Markdown (also appended to $GITHUB_STEP_SUMMARY when set)
  qiibee-conformance diff OLD.json NEW.json   what changed between two runs

Groups (--only): {groups}

Examples:
  qiibee-conformance certify                       # certify the embedded reference mock
  QIIBEE_API_KEY=... qiibee-conformance certify --target https://sandbox.example.com --only exchange history
  pytest contracts --target https://sandbox.example.com -k EXC-03   # the same checks as plain pytest
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from qiibee_conformance.requirements import GROUPS

    parser.epilog = _EPILOG.format(groups=" ".join(GROUPS))
    parser.add_argument(
        "--target", metavar="URL", help="base URL of the API (default: start the embedded mock)"
    )
    parser.add_argument("--api-key", metavar="KEY", help="API key (default: $QIIBEE_API_KEY)")
    parser.add_argument("--config", metavar="FILE", help="TOML file with what cannot be discovered")
    parser.add_argument(
        "--reports", metavar="DIR", default="reports", help="report directory (default: ./reports)"
    )
    # Parsed in run() so that a bad value is a one-line error with exit 2, like every other one.
    parser.add_argument(
        "--max-examples", metavar="N", help="schemathesis examples per operation (default: 50)"
    )
    parser.add_argument(
        "--settle-timeout", metavar="SECONDS", help="how long an exchange may stay pending (default: 30)"
    )
    parser.add_argument("--only", metavar="GROUP", nargs="+", help="run only these requirement groups")
    parser.add_argument(
        "--max-time",
        metavar="SECONDS",
        help="stop the whole run after this long, reports written, verdict INCOMPLETE (default: 1800)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="advisories (readings where the documents are silent) count as failures: a vendor's own gate",
    )
    parser.add_argument(
        "--allow-non-sandbox",
        action="store_true",
        help="allow a target that is neither loopback nor sandbox-like (writes data, spends points)",
    )
    parser.add_argument(
        "--baseline", metavar="FILE", help="accepted findings (YAML): exit 1 only for findings not in it"
    )
    parser.add_argument(
        "--write-baseline", metavar="FILE", help="write this run's failures and advisories as a baseline"
    )
    parser.add_argument(
        "--markdown", metavar="FILE", help="write the verdict in Markdown (for a pull-request comment)"
    )


def _number(flag: str, value: str | None, kind: type[int] | type[float]) -> int | float | None:
    from qiibee_conformance.errors import RunError

    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise RunError(f"{flag} must be {noun}, got {value!r}") from None


def _positive(flag: str, value: str | None) -> float | None:
    from qiibee_conformance.certify.session import DEFAULT_MAX_TIME
    from qiibee_conformance.errors import RunError

    number = _number(flag, value, float)
    if number is None:
        return DEFAULT_MAX_TIME
    if not number > 0:
        raise RunError(f"{flag} must be a positive number of seconds, got {value!r}")
    return float(number)


def run(args: argparse.Namespace) -> int:
    import os

    from qiibee_conformance.certify.session import CertifyRequest, certify
    from qiibee_conformance.settings import api_key_from

    request = CertifyRequest(
        target=args.target,
        api_key=api_key_from(args.api_key),
        config=args.config,
        reports=args.reports,
        max_examples=_number("--max-examples", args.max_examples, int),
        settle_timeout=_number("--settle-timeout", args.settle_timeout, float),
        only=list(args.only or ()),
        strict=args.strict,
        max_time=_positive("--max-time", args.max_time),
        allow_non_sandbox=bool(args.allow_non_sandbox),
        baseline=args.baseline,
        write_baseline=args.write_baseline,
        markdown=args.markdown,
        step_summary=os.environ.get("GITHUB_STEP_SUMMARY") or None,
    )
    return certify(request)
