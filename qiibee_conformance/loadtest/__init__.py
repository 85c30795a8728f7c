"""``qiibee-conformance load``: Locust scenarios, SLO gates and reconciliation.

Modules that import Locust (``users``, ``shapes``, ``scenarios``) are only ever
imported inside the Locust subprocess: Locust monkey-patches the standard
library with gevent, which must stay out of the CLI, the mock and the tests.
"""
