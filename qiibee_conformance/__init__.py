"""qiibee-conformance: contract and load conformance suite for the qiibee loyalty APIs."""

__version__ = "0.1.0"
