"""Putting text that came from a target or a test into Markdown, where it stays text."""

from __future__ import annotations

import re

_BACKTICKS = re.compile(r"`+")
_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code(value: object) -> str:
    """``value`` as one inline code span, whatever backticks it holds (on one line)."""
    text = " ".join(str(value).split())
    ticks = "`" * (_longest_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fenced(text: str, language: str = "") -> str:
    """``text`` as a fenced block that no line of it can close."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def cell(value: object) -> str:
    """``value`` as plain text on one line, safe in a table cell or a sentence."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)
