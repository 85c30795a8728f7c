"""The ``qiibee-conformance`` command: a thin dispatcher over the subcommands.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; they are imported lazily so that ``mock`` does not pay for
schemathesis and ``certify`` does not pay for Locust.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from qiibee_conformance import __version__
from qiibee_conformance.errors import EXIT_RUN_ERROR, RunError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "certify": ("qiibee_conformance.certify.cli", "certify a target against the documented contract"),
    "load": ("qiibee_conformance.loadtest.cli", "load-test a target with Locust, gate on SLOs, reconcile"),
    "mock": ("qiibee_conformance.mock.cli", "serve the stateful reference mock of both APIs"),
    "diff": ("qiibee_conformance.diffing.cli", "compare two certification reports: what changed"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qiibee-conformance",
        description="Contract and load conformance suite for the qiibee Users and Points Exchange APIs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or help_text).strip()
        sp = sub.add_parser(
            name, help=help_text, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(sp)
        sp.set_defaults(_module=module_name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_RUN_ERROR
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args))
    except RunError as err:
        print(f"qiibee-conformance {args.command}: error: {err}", file=sys.stderr)
        return EXIT_RUN_ERROR
    except KeyboardInterrupt:
        print(f"qiibee-conformance {args.command}: interrupted", file=sys.stderr)
        return 130
