"""The two kinds of failure, never mixed.

A *finding* (the target broke the contract) is reported with evidence and exit 1.
A :class:`RunError` (the run could not be made: misuse, unreachable target, bad
config) is reported as one line and exit 2.
"""

EXIT_OK = 0
EXIT_NONCONFORMING = 1
EXIT_RUN_ERROR = 2


class RunError(Exception):
    """The run could not be made. ``str(err)`` is the one line shown to the user."""
