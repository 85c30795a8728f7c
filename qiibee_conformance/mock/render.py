"""JSON rendering of every response object, with the tolerated shapes picked by variants.

History pages are the hot path of the benchmark, so the rarely changing
sub-objects (tokens, brands, users) are serialized once and spliced in as text,
and each whole history row is kept as UTF-8 bytes in a bounded LRU cache. A
row's text changes only when its status changes (settlement: the store reports
the id, and the cached status is checked on every read) or when its user is
updated (``forget_user`` bumps the user's generation, which stale entries carry).
Every write to a row reaches ``forget_tx`` through the store's ``tx_changed``
hook, so an entry whose user is current may be served by id alone (the
unfiltered page, whose ids follow from the dense id range without a query).
Variants are fixed per process, so one per-process cache is safe.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from qiibee_conformance.mock.catalogue import BRANDS, TOKENS, Pair
from qiibee_conformance.mock.config import MockConfig
from qiibee_conformance.mock.providers import AIRLINES
from qiibee_conformance.mock.store import TxRef, TxRow, UserRow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EXTRA_KEY = "x_mock_undocumented"
ROW_CACHE_ROWS = 100_000  # a whole benchmark history: ~1.2 KB a row, ~120 MB once every row was read
# The store keeps "pending"/"failed" (its indexes and queries use them); only the wire names change.
LITERAL_STATUS_NAMES = {"pending": "processing", "failed": "reversed"}
# The exchange-row-type-renamed fault: exchange rows shown (and filtered) under another type name.
RENAMED_TYPES = {"exchange": "points_exchange"}


def tx_hash(tx_id: int) -> str:
    """A stable fake chain hash for a settled transaction."""
    return "0x" + hashlib.sha256(f"qiibee-mock-tx-{tx_id}".encode()).hexdigest()


def dumps(obj: Any) -> str:
    """Compact JSON text (UTF-8 safe, no NaN)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class Renderer:
    """Builds response bodies; one instance per app, caches keyed by id."""

    def __init__(self, config: MockConfig) -> None:
        self.string_ids = config.variant("string-token-ids")
        self.zoned = config.variant("zoned-times")
        self.extra = config.variant("extra-fields")
        # stored status -> shown status; literal-reading names the undocumented ones differently
        self.status_names = LITERAL_STATUS_NAMES if config.variant("literal-reading") else {}
        self.type_names = RENAMED_TYPES if config.fault("exchange-row-type-renamed") else {}
        self._token_json: dict[int, str] = {}
        self._history_token_json: dict[int, str] = {}
        self._brand_json: dict[str, str] = {}
        self._user_json: dict[int, str] = {}
        self._user_gen: dict[int, int] = {}
        # tx id -> (status, user pk, user generation, rendered row)
        self._rows: OrderedDict[int, tuple[str, int, int, bytes]] = OrderedDict()
        self.row_cache_rows = ROW_CACHE_ROWS

    # ---- small objects ----------------------------------------------------

    def _more(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.extra:
            obj[EXTRA_KEY] = "extra-fields variant"
        return obj

    def time(self, us: int) -> str:
        """``2021-09-27T14:31:10`` (naive UTC), or with microseconds and Z under zoned-times."""
        moment = EPOCH + timedelta(microseconds=us)
        if self.zoned:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return moment.strftime("%Y-%m-%dT%H:%M:%S")

    def token(self, token_id: int, *, history: bool = False) -> dict[str, Any]:
        t = TOKENS[token_id]
        obj: dict[str, Any] = {
            "id": str(t.id) if self.string_ids else t.id,
            "address": t.address,
            "metadata": {},
            "name": t.name,
            "symbol": t.symbol,
            "type": t.type,
            "onramp": t.onramp,
            "offramp": t.offramp,
        }
        if history:
            obj.update(
                estimated_member_count_lower=1000,
                estimated_member_count_higher=5000,
                countries=["AAA"],
                status="active",
            )
        return self._more(obj)

    def token_json(self, token_id: int, *, history: bool = False) -> str:
        cache = self._history_token_json if history else self._token_json
        text = cache.get(token_id)
        if text is None:
            text = cache[token_id] = dumps(self.token(token_id, history=history))
        return text

    def brand(self, brand_id: str) -> dict[str, Any]:
        brand = BRANDS.get(brand_id)
        name = brand.name if brand else AIRLINES.get(brand_id, brand_id)
        return self._more({"id": brand_id, "name": name, "locations": [], "brand_config": None})

    def brand_json(self, brand_id: str) -> str:
        text = self._brand_json.get(brand_id)
        if text is None:
            text = self._brand_json[brand_id] = dumps(self.brand(brand_id))
        return text

    def user(self, row: UserRow) -> dict[str, Any]:
        return self._more(
            {
                "id": row.id,
                "email": row.email,
                "auth_id": row.auth_id,
                "first_name": row.first_name,
                "second_name": row.second_name,
                "language": row.language,
                "country_ISO": row.country_iso,
                "metadata": json.loads(row.metadata) if row.metadata is not None else None,
            }
        )

    def user_json(self, row: UserRow) -> str:
        text = self._user_json.get(row.pk)
        if text is None:
            text = self._user_json[row.pk] = dumps(self.user(row))
        return text

    def forget_user(self, pk: int) -> None:
        """Drop the cached fragment after an update; the user's cached rows go stale with it."""
        self._user_json.pop(pk, None)
        self._user_gen[pk] = self._user_gen.get(pk, 0) + 1

    def membership(self, provider: str, number: str) -> dict[str, Any]:
        return self._more({"membership_number": number, "brand": self.brand(provider)})

    def pair(self, pair: Pair) -> dict[str, Any]:
        return self._more(
            {
                "id": pair.id,
                "from_token": self.token(pair.from_id),
                "to_token": self.token(pair.to_id),
                "status": pair.status,
                "max_usd_exchange_limit": pair.max_usd,
                "min_usd_exchange_limit": pair.min_usd,
                "timestamp": self.time(pair.timestamp_us),
            }
        )

    def balance(self, token_id: int, amount: int) -> dict[str, Any]:
        return self._more({"balance": amount, "token": self.token(token_id)})

    # ---- history rows -------------------------------------------------------

    def tx_json(self, row: TxRow, user: UserRow) -> str:
        """One history row as JSON text, shaped like the document's example."""
        burned = str(row.amount) if row.type != "credit_points" else None
        token_to = row.token_to_id
        parts = [
            f'{{"id":{row.id}',
            f'"amount_received":{dumps(row.amount_received)}',
            f'"points_burned":{dumps(burned)}',
            f'"loyalty_event_type":{dumps(self.type_names.get(row.type, row.type))}',
            f'"status":{dumps(self.status_names.get(row.status, row.status))}',
            f'"inserted_at":"{self.time(row.inserted_us)}"',
            f'"token":{self.token_json(row.token_id, history=True)}',
            f'"token_to":{self.token_json(token_to, history=True) if token_to else "null"}',
            f'"user":{self.user_json(user)}',
            '"user_to":null',
            f'"brand":{self.brand_json(TOKENS[row.token_id].brand_id)}',
            f'"brand_to":{self.brand_json(TOKENS[token_to].brand_id) if token_to else "null"}',
            f'"exchange_provider":{dumps(row.provider)}',
            f'"tx_hash":{dumps(tx_hash(row.id)) if row.status == "success" else "null"}',
            '"code":null',
            '"reward_id":null',
        ]
        if self.extra:
            parts.append(f'"{EXTRA_KEY}":"extra-fields variant"')
        return ",".join(parts) + "}"

    def cached_refs(self, refs: list[TxRef]) -> list[bytes | None]:
        """Cached rows still current for the refs (same status, user not updated), else None."""
        rows, gens = self._rows, self._user_gen
        out: list[bytes | None] = []
        for tx_id, status, user_pk in refs:
            hit = rows.get(tx_id)
            if hit is not None and hit[0] == status and hit[2] == gens.get(user_pk, 0):
                rows.move_to_end(tx_id)
                out.append(hit[3])
            else:
                out.append(None)
        return out

    def cached_ids(self, ids: Sequence[int]) -> list[bytes | None]:
        """Cached rows by id alone: valid because every row write calls ``forget_tx``."""
        rows, gens = self._rows, self._user_gen
        out: list[bytes | None] = []
        for tx_id in ids:
            hit = rows.get(tx_id)
            if hit is not None and hit[2] == gens.get(hit[1], 0):
                rows.move_to_end(tx_id)
                out.append(hit[3])
            else:
                out.append(None)
        return out

    def cache_tx(self, row: TxRow, user: UserRow) -> bytes:
        """Render a row and keep it, evicting the least recently read beyond the bound."""
        text = self.tx_json(row, user).encode()
        rows = self._rows
        rows[row.id] = (row.status, user.pk, self._user_gen.get(user.pk, 0), text)
        rows.move_to_end(row.id)
        while len(rows) > self.row_cache_rows:
            rows.popitem(last=False)
        return text

    def forget_tx(self, tx_id: int) -> None:
        """A row was written (inserted, settled, rolled back): its cached text is stale."""
        self._rows.pop(tx_id, None)

    def envelope(self, data_json: str, key: str = "data") -> bytes:
        """``{"data": ...}`` (or another key) around already serialized data."""
        extra = f',"meta":{{"{EXTRA_KEY}":true}}' if self.extra else ""
        return f'{{"{key}":{data_json}{extra}}}'.encode()

    def data(self, data: Any, key: str = "data") -> bytes:
        return self.envelope(dumps(data), key)

    def page(self, fields: dict[str, Any], list_key: str, items_json: list[str]) -> bytes:
        """A paginated payload: scalar fields plus a list of pre-rendered items."""
        head = dumps(self._more(dict(fields)))[:-1]
        sep = "," if len(head) > 1 else ""
        return self.envelope(f'{head}{sep}"{list_key}":[{",".join(items_json)}]}}')

    def page_bytes(self, fields: dict[str, Any], list_key: str, items: list[bytes]) -> bytes:
        """``page`` for items already encoded, so cached rows are joined without decoding."""
        head = dumps(self._more(dict(fields)))[:-1]
        sep = "," if len(head) > 1 else ""
        tail = f',"meta":{{"{EXTRA_KEY}":true}}}}' if self.extra else "}"
        return b"".join(
            (f'{{"data":{head}{sep}"{list_key}":['.encode(), b",".join(items), b"]}", tail.encode())
        )

    def error(self, status: int, message: str, *, message_errors: bool) -> dict[str, Any]:
        """The error object: ``{"error": m}`` or, under message-errors, the other shapes."""
        if message_errors:
            obj: dict[str, Any] = {"errors": {"detail": message}} if status == 400 else {"message": message}
        else:
            obj = {"error": message}
        return self._more(obj)
