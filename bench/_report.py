"""What every bench script prints: the machine and a figures table (imported by the scripts beside it)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("measure", "figure", "target", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def machine() -> dict[str, str]:
    """What the figures were measured on (they mean nothing without it)."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    cpus = str(os.cpu_count() or 0)
    return {"nproc": cpus, "cpu": model, "python": platform.python_version(), "loadavg": load}


README = Path(__file__).resolve().parent / "README.md"


def write_readme_section(section: str, text: str) -> None:
    """Replace (or add) the section headed ``section`` in bench/README.md, leaving the rest alone."""
    current = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    start = current.find(section)
    if start < 0:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        end = current.find("\n## ", start + len(section))
        updated = current[:start] + text + ("" if end < 0 else current[end:])
    README.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")
