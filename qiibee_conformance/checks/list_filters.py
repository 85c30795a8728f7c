"""List query parameters the documents leave open: how they are spelled, and how answers read.

``types`` (history) and ``token_to_types`` (whitelist) are lists; DECISIONS D85 tolerates
``types[]=a&types[]=b``, ``types=a&types=b`` and ``types=a,b``, and a target may implement
one alone. An unknown value may be refused or answered with an empty list (D86).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from qiibee_conformance.client import Response

# List query parameters (`types`, `token_to_types`): DECISIONS D85 tolerates
# `types[]=a&types[]=b` ("brackets"), `types=a&types=b` ("repeat") and `types=a,b`
# ("comma"), and a target may implement one alone. The suite sends brackets first and,
# when the filter is visibly not applied, tries the others; an encoding whose effect is
# visible (see list_filter) is kept for the run. One value is sent alike by "repeat" and
# "comma", so an encoding proven with one value may still be either of the two.
LIST_ENCODINGS = ("brackets", "repeat", "comma")


def list_param(name: str, values: Iterable[str], encoding: str = "brackets") -> list[tuple[str, str]]:
    values = list(values)
    if encoding == "comma":
        return [(name, ",".join(values))] if values else []
    key = name + "[]" if encoding == "brackets" else name
    return [(key, v) for v in values]


def encodings_for(values: Sequence[str], first: str | None = None) -> list[str]:
    """The encodings worth sending for ``values``: ``first`` (a proven one) alone, except that
    "repeat" proven with one value may be "comma" for several; every one when none is proven;
    never two that send the same parameters."""
    if first is not None:
        return [first, "comma"] if first == "repeat" and len(values) > 1 else [first]
    return [e for e in LIST_ENCODINGS if not (e == "comma" and len(values) < 2)]


def filter_visible(unfiltered: Response, applied: Callable[[Response], bool]) -> bool:
    """Whether a filter's effect can be seen: the unfiltered answer (a 200) breaks it.

    Only then does a filtered answer that honours the filter prove the parameter was
    read; otherwise an ignored parameter gives the same answer."""
    return unfiltered.status == 200 and not applied(unfiltered)


def unknown_value_verdict(
    answers: Sequence[tuple[str, Response]], lists_nothing: Callable[[Response], bool]
) -> str | None:
    """How the answers to an unknown filter value read (``list_unknown_value``), or None when
    they conform (D86: a 4xx, or 200 listing nothing); ``lists_nothing(response)`` says
    whether a 200 lists no item. A 5xx is a break (D16).

    One answer (the proven encoding) must conform. Several (none proven): the target reads
    one of them and may ignore or refuse the others, so one conforming answer suffices; when
    none conforms, an ignored parameter cannot be told from a matching value ("untestable")."""
    if any(r.status >= 500 for _, r in answers):
        return "nonconformity"
    if any(400 <= r.status < 500 or (r.status == 200 and lists_nothing(r)) for _, r in answers):
        return None
    return "nonconformity" if len(answers) == 1 else "untestable"


def pick_answer(answers: Sequence[Response], applied: Callable[[Response], bool]) -> Response:
    """The answer a check should judge when no encoding was proven: one that honours the
    filter, else a 200 (so an encoding rejected as unknown does not hide the other), else
    the first."""
    ok = [r for r in answers if r.status == 200]
    honoured = [r for r in ok if applied(r)]
    return (honoured or ok or list(answers))[0]
