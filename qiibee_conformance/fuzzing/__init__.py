"""schemathesis over the spec, as the suite runs it: what is generated, what judges it, how it travels.

The spec (``openapi/qiibee.yaml``) shapes *what* is generated; this package decides which
of schemathesis' checks judge the answers (some demand more than the documents do: see
``openapi/DECISIONS.md``, "Spec: which schemathesis checks judge"), which generated cases
are never sent (their verdict is not settled by the documents), how the requests travel
(the suite's transport rules) and how failures are printed (without the key).

The contract tests in ``contracts/`` (SCH-01, SCH-02, SCH-03) are thin users of it; so is
plain ``schemathesis run`` through ``schemathesis.toml`` (its hooks module is
:mod:`qiibee_conformance.fuzzing.hooks`).
"""

from qiibee_conformance.fuzzing.config import SEED, STATEFUL_MAX_STEPS, Mode, build_config
from qiibee_conformance.fuzzing.failures import redact_failure, redacted_failures
from qiibee_conformance.fuzzing.loader import AnyCase, load_schema, negatable_operations
from qiibee_conformance.fuzzing.parallel import Call, OperationResult, fuzz_operations, start_pool
from qiibee_conformance.fuzzing.session import call_and_validate, http_session
from qiibee_conformance.fuzzing.stateful import build_state_machine, run_state_machine

__all__ = [
    "SEED",
    "STATEFUL_MAX_STEPS",
    "AnyCase",
    "Call",
    "Mode",
    "OperationResult",
    "build_config",
    "build_state_machine",
    "call_and_validate",
    "fuzz_operations",
    "http_session",
    "load_schema",
    "negatable_operations",
    "redact_failure",
    "redacted_failures",
    "run_state_machine",
    "start_pool",
]
