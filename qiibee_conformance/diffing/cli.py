"""Compare two certification reports (certification.json): what changed from OLD to NEW.

Lists new failures, fixed ones and those still failing; new and fixed advisories;
requirements that became untestable; and the request and latency figures of both
runs. Findings are matched by requirement and fingerprint, so volatile values (ids,
times, generated data) never make an old finding look new.

Exit status: 0 nothing new fails; 1 something new fails (a new advisory too when the
new run was strict); 2 a report cannot be read.
"""

from __future__ import annotations

import argparse

_EPILOG = """\
Examples:
  qiibee-conformance diff release-1.4/certification.json reports/certification.json
  qiibee-conformance diff old.json new.json --markdown diff.md   # for a pull-request comment
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EPILOG
    parser.add_argument("old", metavar="OLD.json", help="the earlier certification report")
    parser.add_argument("new", metavar="NEW.json", help="the later certification report")
    parser.add_argument("--markdown", metavar="FILE", help="also write the diff in Markdown to FILE")


def run(args: argparse.Namespace) -> int:
    import sys

    from qiibee_conformance.diffing.compare import compare
    from qiibee_conformance.diffing.reading import read_report, scrubbed, write_text
    from qiibee_conformance.diffing.render import markdown, terminal
    from qiibee_conformance.errors import EXIT_NONCONFORMING, EXIT_OK

    comparison = compare(read_report(args.old), read_report(args.new))
    sys.stdout.write(scrubbed(terminal(comparison, args.old, args.new)))
    if args.markdown:
        path = write_text(args.markdown, markdown(comparison, args.old, args.new))
        sys.stdout.write(f"markdown: {path}\n")
    return EXIT_NONCONFORMING if comparison.something_new_fails else EXIT_OK
