"""JSON bodies for the load run, and history pages decoded to just what the page checks read.

A history page is about 1 kB of JSON per row (the row's token, counter-token,
user and brands, each a nested object), and the page checks read a handful of
fields. Building every nested dict of a 100-row page costs a history user more
than its whole request; a typed decode validates the whole document's JSON
syntax just the same but builds only the fields named below and skips the rest.

The narrowed decode is a fast path, never a second opinion: a page it cannot
take as declared (a field of another type, a row that is not an object, a body
that is not JSON) is decoded again in full, and ``check_page`` judges that
body as it always does. So for every body, the problems found are those of the
full decode; ``tests/test_load_units.py`` holds this against pages of every shape.
``PageMemo`` then spares the decode of a page that comes back byte for byte.
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec

_ANY = msgspec.json.Decoder()
DEFAULT_MEMO_PAGES = 64


class _TokenRef(TypedDict, total=False):
    id: Any


class _UserRef(TypedDict, total=False):
    auth_id: Any


class _PlainRow(TypedDict, total=False):
    """What order and identity read (``check_page`` on a walk without row filters)."""

    id: Any
    inserted_at: Any


class _FilteredRow(_PlainRow, total=False):
    """What the user, type and token filter checks read too (``reconcile.row_*``)."""

    loyalty_event_type: Any
    type: Any
    token: _TokenRef | None
    token_id: Any
    token_to: _TokenRef | None
    token_to_id: Any
    user: _UserRef | None
    user_auth_id: Any
    user_to: _UserRef | None


class _PlainData(TypedDict):
    transactions: list[_PlainRow]
    total_tx_count: int


class _FilteredData(TypedDict):
    transactions: list[_FilteredRow]
    total_tx_count: int


class _PlainPage(TypedDict):
    data: _PlainData


class _FilteredPage(TypedDict):
    data: _FilteredData


_PLAIN = msgspec.json.Decoder(_PlainPage)
_FILTERED = msgspec.json.Decoder(_FilteredPage)


def decode_json(content: bytes | None) -> Any:
    """The body as JSON, or None when it is empty or not JSON.

    From bytes: JSON is UTF-8, and Locust's ``.text`` may guess the charset
    (slowly) when the target sends none."""
    if not content:
        return None
    try:
        return _ANY.decode(content)
    except msgspec.DecodeError:
        return None


def decode_page(content: bytes | None, on_rows: bool) -> Any:
    """A history page with only the fields ``check_page`` reads (``on_rows``: the walk
    filters by user, type or token, so the rows' references are read too); any body
    the narrowed decode cannot take is decoded in full (``decode_json``)."""
    if content:
        try:
            return (_FILTERED if on_rows else _PLAIN).decode(content)
        except msgspec.DecodeError:  # ValidationError included: a shape the checks judge in full
            pass
    return decode_json(content)


class PageMemo:
    """The last decoded body of each page URL, reused while the target sends the same bytes.

    Walks fetch the same URLs again and again (every user starts at offset 0, and a
    frozen window never changes), and a page the target sends byte for byte as before
    decodes to the same tree: comparing the bytes costs a few microseconds, decoding
    them a hundred. Any other body is decoded afresh and replaces the old one. The
    checks only read the tree, so one tree serves every walk. Bounded: the URL used
    longest ago goes when ``max_pages`` are held (each entry keeps its body, about
    1 kB a row). Greenlets cannot interleave inside ``decode``: it never yields."""

    def __init__(self, max_pages: int = DEFAULT_MEMO_PAGES) -> None:
        self.max_pages = max_pages
        self._pages: dict[tuple[str, bool], tuple[bytes, Any]] = {}

    def decode(self, url: str, content: bytes | None, on_rows: bool) -> Any:
        """``decode_page(content, on_rows)``, from the memo when ``url`` sent these bytes before."""
        if not content or self.max_pages <= 0:
            return decode_page(content, on_rows)
        key = (url, on_rows)
        known = self._pages.pop(key, None)
        if known is not None and known[0] == content:
            decoded = known[1]
        else:
            decoded = decode_page(content, on_rows)
            if len(self._pages) >= self.max_pages:
                del self._pages[next(iter(self._pages))]
        self._pages[key] = (content, decoded)  # now the newest
        return decoded
