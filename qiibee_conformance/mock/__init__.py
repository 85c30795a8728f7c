"""The reference mock of the qiibee Users and Points Exchange APIs.

A stateful Starlette app over SQLite that follows every documented rule (and,
with ``--fault``/``--variant``, breaks exactly one rule or picks the other
tolerated choice). It imports nothing of the suite so it can stand in for a
real target.
"""
