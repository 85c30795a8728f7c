"""Allow ``python -m qiibee_conformance``."""

from qiibee_conformance.cli import main

raise SystemExit(main())
