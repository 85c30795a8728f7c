"""Learn a target's tokens and exchange pairs instead of hard-coding them.

Every target has its own token ids and rates; the only documented way to learn
them is ``GET /token-exchange-whitelist``. The brand's own points token is the
one ``credit_points`` accepts: given in the settings, or found by probing.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from qiibee_conformance.client import ApiClient, Response
from qiibee_conformance.envelopes import created_auth_id
from qiibee_conformance.errors import RunError
from qiibee_conformance.money import to_fraction
from qiibee_conformance.settings import Settings

WHITELIST_PATH = "/token-exchange-whitelist"


def parse_token_id(value: object) -> int | None:
    """A token id as the documents allow it in responses: an int or a digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_rate(value: object) -> Fraction | None:
    """An onramp/offramp: a decimal string (or number); ``None`` when absent or unusable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, int | str):
        return None
    try:
        return to_fraction(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    symbol: str
    type: str
    onramp: Fraction | None
    offramp: Fraction | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: object) -> Token | None:
        """Parse a token object; ``None`` if it has no usable integer id."""
        if not isinstance(obj, dict):
            return None
        token_id = parse_token_id(obj.get("id"))
        if token_id is None:
            return None
        return cls(
            id=token_id,
            name=str(obj.get("name") or ""),
            symbol=str(obj.get("symbol") or ""),
            type=str(obj.get("type") or "").lower(),
            onramp=parse_rate(obj.get("onramp")),
            offramp=parse_rate(obj.get("offramp")),
            raw=obj,
        )


@dataclass(frozen=True)
class Pair:
    id: object
    from_token: Token
    to_token: Token
    status: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def active(self) -> bool:
        # The endpoint lists "active exchange partnerships"; a missing status is read as active.
        return self.status in ("", "active")


@dataclass
class Catalogue:
    tokens: dict[int, Token]
    pairs: list[Pair]
    brand_token: Token

    def pair(self, a_id: int, b_id: int) -> Pair | None:
        """The active pair from token ``a_id`` to token ``b_id``, if any."""
        for pair in self.pairs:
            if pair.active and pair.from_token.id == a_id and pair.to_token.id == b_id:
                return pair
        return None

    def brand_pairs(self) -> list[Pair]:
        """Active pairs whose source is the brand's own token."""
        return [p for p in self.pairs if p.active and p.from_token.id == self.brand_token.id]

    def one_way_pairs(self) -> list[Pair]:
        """Pairs from the brand token whose reverse is not whitelisted."""
        return [p for p in self.brand_pairs() if self.pair(p.to_token.id, p.from_token.id) is None]

    def exchangeable_pairs(self) -> list[Pair]:
        """Brand pairs an exchange can be checked on exactly: rates known, not crypto, not NFT."""
        return [
            p
            for p in self.brand_pairs()
            if p.to_token.type not in ("crypto", "erc721")
            and p.to_token.onramp not in (None, 0)
            and p.from_token.offramp is not None
        ]

    def pairs_of_type(self, token_type: str) -> list[Pair]:
        return [p for p in self.brand_pairs() if p.to_token.type == token_type]

    def unused_token_id(self) -> int:
        """A token id the target does not list (for 'unknown token' probes)."""
        return max([*self.tokens, 0]) + 1_000_003


def parse_whitelist(response: Response) -> list[Pair]:
    """The pairs of a whitelist response; pairs with unusable token objects are left out."""
    data = response.data()
    if not isinstance(data, list):
        return []
    pairs: list[Pair] = []
    for item in data:
        if not isinstance(item, dict):
            continue
        src = Token.from_json(item.get("from_token"))
        dst = Token.from_json(item.get("to_token"))
        if src is None or dst is None:
            continue
        pairs.append(
            Pair(
                id=item.get("id"),
                from_token=src,
                to_token=dst,
                status=str(item.get("status") or "").lower(),
                raw=item,
            )
        )
    return pairs


def create_user(client: ApiClient, email: str) -> str:
    """Create a user for the run's own use; the run cannot go on without one."""
    response = client.post("/users", {"user": {"email": email}})
    auth_id = created_auth_id(response.json())
    if not 200 <= response.status < 300 or auth_id is None:
        raise RunError(f"cannot create a test user on the target (POST /users gave HTTP {response.status})")
    return auth_id


def credit(client: ApiClient, auth_id: str, token_id: int, amount: int) -> Response:
    return client.post(
        "/transactions",
        {
            "transaction": {
                "type": "credit_points",
                "user_auth_id": auth_id,
                "token_id": token_id,
                "amount": amount,
            }
        },
    )


def _token_from_balances(client: ApiClient, auth_id: str, token_id: int) -> Token | None:
    response = client.get(f"/users/{auth_id}/balances")
    data = response.data()
    if not isinstance(data, list):
        return None
    for entry in data:
        if isinstance(entry, dict):
            token = Token.from_json(entry.get("token"))
            if token is not None and token.id == token_id:
                return token
    return None


def _probe_email(settings: Settings) -> str:
    """A fresh address each time: discovery may run more than once per run, and a
    target may refuse a duplicate email (tolerated)."""
    return f"qc-{settings.run_id}-probe-{secrets.token_hex(3)}@{settings.email_domain}"


def _probe_brand_token(client: ApiClient, settings: Settings, candidates: list[Token]) -> Token:
    auth_id = create_user(client, _probe_email(settings))
    for token in candidates:
        if credit(client, auth_id, token.id, 1).status == 202:
            return token
    raise RunError(
        "cannot find the brand's own points token: credit_points was refused for every source token "
        "of the whitelist (set brand_token_id in the config)"
    )


def discover(client: ApiClient, settings: Settings) -> Catalogue:
    """Read the whitelist and find the brand's own token (RunError if impossible)."""
    response = client.get(WHITELIST_PATH)
    if response.status != 200:
        raise RunError(
            f"cannot read the exchange whitelist (GET {WHITELIST_PATH} gave HTTP {response.status})"
        )
    pairs = parse_whitelist(response)
    tokens: dict[int, Token] = {}
    for pair in pairs:
        tokens.setdefault(pair.from_token.id, pair.from_token)
        tokens.setdefault(pair.to_token.id, pair.to_token)
    if settings.brand_token_id is not None:
        brand = tokens.get(settings.brand_token_id)
        if brand is None:
            auth_id = create_user(client, _probe_email(settings))
            credit(client, auth_id, settings.brand_token_id, 1)
            brand = _token_from_balances(client, auth_id, settings.brand_token_id)
        if brand is None:
            raise RunError(
                f"the configured brand_token_id {settings.brand_token_id} is unknown to the target"
            )
        tokens.setdefault(brand.id, brand)
        return Catalogue(tokens=tokens, pairs=pairs, brand_token=brand)
    counts = Counter(p.from_token.id for p in pairs if p.active)
    if not counts:
        raise RunError(f"the exchange whitelist (GET {WHITELIST_PATH}) lists no usable active pair")
    candidates = [tokens[token_id] for token_id, _ in counts.most_common()]
    brand = _probe_brand_token(client, settings, candidates)
    return Catalogue(tokens=tokens, pairs=pairs, brand_token=brand)
