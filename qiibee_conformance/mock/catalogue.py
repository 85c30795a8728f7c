"""The fixed world the mock serves: the brand, its partners, tokens and whitelist pairs.

Ids are stable across restarts and deliberately not tiny integers. Rates are
decimal strings chosen so that exact arithmetic matters:

* 101 -> 202: rate 0.35 / 0.1 = 3.5; in binary floats 2 x 0.35 / 0.1 floors to 6, exactly 7.
* 101 -> 606 (NFT): burned = ceil(12.5 / 0.3) = ceil(41.66...) = 42.
* 101 -> 303 is one way: no 303 -> 101 pair, yet received 303 points are credited.
* 101 -> 707 (external): settlement always fails, so the exchange is reversed.
* 808 -> 101 is one way inbound: a partner's points into the brand's, with no
  101 -> 808 pair, so "brand -> 808" is the reverse a suite can test with
  brand points alone.
* 202 -> 303 is a paused partnership: never listed (the whitelist shows active
  ones only) and never exchangeable; the whitelist-lists-inactive fault lists it.

New tokens and pairs go after the existing ones so seeded ids never move.
"""

from __future__ import annotations

from dataclasses import dataclass

BRAND_ID = "demo_brand"
BRAND_NAME = "Demo Brand"
BRAND_TOKEN_ID = 101


@dataclass(frozen=True)
class Brand:
    """A brand as shown in memberships and history rows."""

    id: str
    name: str


@dataclass(frozen=True)
class Token:
    """A token; ``provider`` names the membership provider miles tokens need."""

    id: int
    brand_id: str
    name: str
    symbol: str
    type: str
    address: str
    onramp: str | None
    offramp: str | None
    provider: str | None = None
    settles: bool = True  # False: settlement always fails (external partner)
    credits_holder: bool = True  # received amount is credited to the user's balance here


@dataclass(frozen=True)
class Pair:
    """A one-way exchange partnership from ``from_id`` to ``to_id`` (``status`` as listed)."""

    id: int
    from_id: int
    to_id: int
    max_usd: str = "100.000000000000000000"
    min_usd: str = "0.010000000000000000"
    timestamp_us: int = 1_663_587_487_000_000  # 2022-09-19T11:38:07Z
    status: str = "active"


BRANDS: dict[str, Brand] = {
    b.id: b
    for b in (
        Brand(BRAND_ID, BRAND_NAME),
        Brand("skyline_rewards", "Skyline Rewards"),
        Brand("harbor_coffee", "Harbor Coffee Club"),
        Brand("etihad", "Etihad"),
        Brand("miles_and_more", "Miles and More"),
        Brand("alaska", "Alaska Airlines"),
        Brand("demo_collectibles", "Demo Collectibles"),
        Brand("giftly", "Giftly Cards"),
        Brand("cedar_books", "Cedar Books Club"),
    )
}

TOKENS: dict[int, Token] = {
    t.id: t
    for t in (
        Token(101, BRAND_ID, "DEMO POINT", "DMP", "erc20",
              "0x5E1d7A0c2b4F3e6D9a8B7c6D5e4F3a2B1c0D9e8F", "0.3", "0.35"),
        Token(202, "skyline_rewards", "SKYLINE POINT", "SKY", "erc20",
              "0x2B7c6D5e4F3a2B1c0D9e8F5E1d7A0c2b4F3e6D9a", "0.1", "0.12"),
        Token(303, "harbor_coffee", "HARBOR BEAN", "HBR", "erc20",
              "0x3C8d7E6f5A4b3C2d1E0f9A6F2e8B1d3c5G4f7E0b", "0.07", "0.05"),
        Token(404, "etihad", "ETIHAD GUEST MILES", "EYM", "miles",
              "0x4D9e8F7a6B5c4D3e2F1a0B7A3f9C2e4d6H5a8F1c", "0.0125", None,
              provider="etihad", credits_holder=False),
        Token(505, "miles_and_more", "MILES AND MORE MILES", "MAM", "miles",
              "0x5E0f9A8b7C6d5E4f3A2b1C8B4a0D3f5e7I6b9A2d", "0.008", None,
              provider="miles_and_more", credits_holder=False),
        Token(606, "demo_collectibles", "DEMO GOLD PASS", "DGP", "erc721",
              "0x6F1a0B9c8D7e6F5a4B3c2D9C5b1E4a6f8J7c0B3e", "12.5", None),
        Token(707, "giftly", "GIFTLY CARD", "GFT", "external",
              "0x7A2b1C0d9E8f7A6b5C4d3E0D6c2F5b7a9K8d1C4f", "0.25", None,
              settles=False, credits_holder=False),
        Token(808, "cedar_books", "CEDAR PAGE", "CDP", "erc20",
              "0x8B3c2D1e0F9a8B7c6D5e4F1E7d3A6c8b0L9e2D5a", "0.2", "0.15"),
    )
}

PAIRS: tuple[Pair, ...] = (
    Pair(2101, 101, 202),
    Pair(2102, 202, 101),
    Pair(2103, 101, 303),
    Pair(2104, 101, 404),
    Pair(2105, 101, 505),
    Pair(2106, 101, 606, max_usd="50.000000000000000000", min_usd="1.000000000000000000"),
    Pair(2107, 101, 707),
    Pair(2108, 808, BRAND_TOKEN_ID),
)
"""The active pairs: what the whitelist lists and what an exchange may follow."""

INACTIVE_PAIRS: tuple[Pair, ...] = (Pair(2109, 202, 303, status="paused"),)
"""Partnerships that exist but are not active: hidden (listed only by the whitelist-lists-inactive fault)."""

PAIR_INDEX: dict[tuple[int, int], Pair] = {(p.from_id, p.to_id): p for p in PAIRS}

TOKEN_TYPES = frozenset({"erc20", "erc721", "external", "fiat", "miles", "crypto", "donation"})

EVENT_TYPES = frozenset({"exchange", "credit_points", "debit_points", "points_to_nft_exchange"})


def one_way_pair_ids() -> set[int]:
    """Pairs from the brand's token with no reverse pair (what a suite finds from brand pairs)."""
    return {
        p.id for p in PAIRS if p.from_id == BRAND_TOKEN_ID and (p.to_id, p.from_id) not in PAIR_INDEX
    }


def inbound_one_way_pair_ids() -> set[int]:
    """Pairs into the brand's token with no reverse pair: brand -> partner must be refused."""
    return {
        p.id for p in PAIRS if p.to_id == BRAND_TOKEN_ID and (p.to_id, p.from_id) not in PAIR_INDEX
    }
