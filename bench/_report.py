"""The figures table every bench script prints (imported by the scripts beside it)."""

from __future__ import annotations


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("measure", "figure", "target", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)
