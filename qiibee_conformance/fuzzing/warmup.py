"""Imported once by the fuzzing workers' fork server: what every worker would do first, done once.

A worker's first property test costs about twice its later ones: schemathesis and Hypothesis
import most of their machinery lazily (the test builder, the state machine, asyncio, anyio,
rate limiting) and build their schema caches on first use. Against a distant target a run
starts a dozen workers or more, so that first cost, paid by each, adds whole seconds of CPU
to the run. Done here, in the fork server, every worker starts with it already paid.

Importing this module has that effect and nothing else: no request is sent, no file written.
"""

from __future__ import annotations

import hypothesis.stateful  # noqa: F401 - warmed for the stateful parts
import schemathesis.generation.feedback
import schemathesis.pytest._test_builder
import schemathesis.python._constants.orchestrator  # noqa: F401

from qiibee_conformance import client, discovery  # noqa: F401 - the stateful parts discover
from qiibee_conformance.fuzzing import cases, evidence, session, stateful  # noqa: F401
from qiibee_conformance.fuzzing.config import Mode
from qiibee_conformance.fuzzing.loader import load_schema
from qiibee_conformance.settings import Settings

_PLACEHOLDER = Settings(base_url="http://127.0.0.1:9", api_key="warm-up, never sent")
_MODES: tuple[Mode, ...] = ("positive", "negative", "stateful")

for _mode in _MODES:
    load_schema(_PLACEHOLDER, _mode)
