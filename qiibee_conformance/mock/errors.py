"""The mock's own start-up error, so the mock imports nothing of the suite.

``MockUsageError`` is a bad command line (unknown ``--fault``/``--variant``
name, bad option value, database that cannot be opened): ``cli.run`` prints it
as one line and exits 2, the same contract the suite's ``RunError`` follows.
"""

from __future__ import annotations

EXIT_USAGE = 2


class MockUsageError(Exception):
    """The mock cannot start as asked. ``str(err)`` is the one line shown to the user."""
