"""Business-rule checks, one per requirement id (see ``requirements.py``).

``all_checks()`` imports every group module and returns the registered checks in
catalogue order; runners wrap each in a test of their own.
"""

from qiibee_conformance.checks.base import Check, all_checks, check
from qiibee_conformance.checks.context import CheckContext
from qiibee_conformance.findings import Nonconformity, Untestable

__all__ = ["Check", "CheckContext", "Nonconformity", "Untestable", "all_checks", "check"]
