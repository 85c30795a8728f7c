"""``qiibee-conformance diff``: what changed between two certification reports."""
