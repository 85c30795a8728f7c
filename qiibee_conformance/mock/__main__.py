"""``python -m qiibee_conformance.mock``: the mock subcommand without loading the other subcommands.

Same arguments and exit codes as ``qiibee-conformance mock``; runners start the
mock this way so it starts fast and does not depend on the suite's modules.
"""

from __future__ import annotations

import argparse

from qiibee_conformance.mock import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="qiibee-conformance mock",
        description=cli.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cli.run(args)  # prints a start-up error itself and returns 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
