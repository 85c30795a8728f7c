"""The start banner: everything a person or a runner needs to point a client at the mock."""

from __future__ import annotations

from qiibee_conformance.mock.catalogue import (
    BRAND_ID,
    BRAND_NAME,
    INACTIVE_PAIRS,
    PAIRS,
    TOKENS,
    inbound_one_way_pair_ids,
    one_way_pair_ids,
)
from qiibee_conformance.mock.config import MockConfig
from qiibee_conformance.mock.providers import EXAMPLE_NUMBERS, FORMAT_SUMMARY


def providers_text() -> str:
    """Membership number formats, one line per provider."""
    lines = [f"  {p:<15} {FORMAT_SUMMARY[p]}  (e.g. {EXAMPLE_NUMBERS[p]})" for p in FORMAT_SUMMARY]
    lines.append("  etihad sandbox numbers 100014486294 and 100014486283 are valid")
    lines.append(f"  {BRAND_ID:<15} the number must equal the user's auth_id")
    return "\n".join(lines)


def banner(config: MockConfig, url: str) -> str:
    one_way = one_way_pair_ids()
    inbound = inbound_one_way_pair_ids()
    lines = [
        "qiibee reference mock (local, not the vendor's service)",
        f"url:        {url}",
        f"api key:    {config.api_key}",
        f"brand id:   {BRAND_ID} ({BRAND_NAME})",
        f"database:   {config.db_path or ':memory:'}",
        f"settle:     {config.settle_delay}s",
        "tokens:",
    ]
    for t in TOKENS.values():
        extra = f" provider={t.provider}" if t.provider else ""
        extra += "" if t.settles else " (settlement always fails -> reversal)"
        lines.append(
            f"  {t.id:>4}  {t.name:<22} {t.type:<8} brand={t.brand_id:<18}"
            f" onramp={t.onramp} offramp={t.offramp}{extra}"
        )
    lines.append("whitelist pairs (from -> to):")
    for p in PAIRS:
        mark = "  one-way" if p.id in one_way else ""
        if p.id in one_way and TOKENS[p.to_id].type == "erc20":
            mark = "  one-way partner (no reverse pair; received points are credited)"
        if p.id in inbound:
            mark = "  one-way inbound (no reverse pair: brand -> partner is refused)"
        lines.append(f"  {p.id}  {p.from_id} -> {p.to_id}{mark}")
    for p in INACTIVE_PAIRS:
        lines.append(f"  {p.id}  {p.from_id} -> {p.to_id}  {p.status} (not listed, not exchangeable)")
    lines.append("membership numbers:")
    lines.append(providers_text())
    lines.append(f"faults:     {', '.join(sorted(config.faults)) or 'none'}")
    lines.append(f"variants:   {', '.join(sorted(config.variants)) or 'none'}")
    return "\n".join(lines)
