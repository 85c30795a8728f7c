"""Whitelist tokens and pairs built by hand, for unit tests of the exchange maths."""

from __future__ import annotations

from typing import Any

from qiibee_conformance.discovery import Pair, Token


def token(tid: int, onramp: str | None, offramp: str | None, kind: str = "erc20") -> Token:
    raw: dict[str, Any] = {"id": tid, "onramp": onramp, "offramp": offramp, "type": kind}
    parsed = Token.from_json(raw)
    assert parsed is not None
    return parsed


def pair(offramp: str, onramp: str, **limits: str) -> Pair:
    """Brand token 1 (offramp ``offramp``) to partner token 2 (onramp ``onramp``), with USD limits."""
    raw: dict[str, Any] = {"id": 1, **limits}
    return Pair(
        id=1, from_token=token(1, "0.3", offramp), to_token=token(2, onramp, None), status="active", raw=raw
    )
