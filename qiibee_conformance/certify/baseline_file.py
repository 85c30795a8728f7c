"""The baseline file: findings a team has accepted for now, read with the line of every value.

A YAML document::

    version: 1
    accepted:
      - requirement: ERR-02
        fingerprint: "3fa2c4d1e0b98a77"
        kind: failure            # or advisory
        summary: "POST /users with a malformed body got HTTP 500"   # for people; not matched
        reason: "ticket PAY-1234: the body parser is being replaced"
        expires: 2025-03-31      # optional: accepted up to and including that day

An entry matches a finding by requirement and fingerprint. Anything else (a missing
field, an unknown key, a bad date, a repeated entry) is a malformed baseline: a
:class:`RunError` naming the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from qiibee_conformance.certify.ledger import ADVISORY, FAILURE, NO_REQUIREMENT, Key
from qiibee_conformance.errors import RunError
from qiibee_conformance.paths import read_user_file

VERSION = 1
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
_REQUIREMENT = re.compile(r"[A-Z]+-\d+")
_REQUIRED = ("requirement", "fingerprint", "reason")
_KNOWN = frozenset({"requirement", "fingerprint", "kind", "summary", "reason", "expires"})
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class BaselineEntry:
    requirement: str
    fingerprint: str
    reason: str
    kind: str = FAILURE
    summary: str = ""
    expires: date | None = None
    line: int = 0

    @property
    def key(self) -> Key:
        return (self.requirement, self.fingerprint)

    def expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today


@dataclass(frozen=True)
class Baseline:
    path: str
    entries: tuple[BaselineEntry, ...]

    def get(self, key: Key) -> BaselineEntry | None:
        return next((e for e in self.entries if e.key == key), None)


class _Reader:
    """Turns the composed YAML nodes into entries; every complaint carries its line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, node: yaml.Node | None, what: str) -> RunError:
        line = node.start_mark.line + 1 if node is not None else 1
        return RunError(f"malformed baseline {self.path}:{line}: {what}")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        found: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in found:
                raise self.error(key, f"{name!r} appears twice")
            found[name] = value
        return found

    def text(self, node: yaml.Node, name: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG:
            raise self.error(node, f"{name!r} must be a single value")
        return str(node.value).strip()

    def document(self, text: str) -> list[yaml.Node]:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as err:
            raise RunError(f"malformed baseline {self.path}:{_yaml_problem(err)}") from None
        except yaml.YAMLError as err:
            raise RunError(f"malformed baseline {self.path}:1: not valid YAML ({err})") from None
        if root is None:
            raise RunError(f"malformed baseline {self.path}:1: the file is empty")
        top = self.mapping(root, "the baseline")
        self._version(top, root)
        unknown = sorted(set(top) - {"version", "accepted"})
        if unknown:
            raise self.error(root, f"unknown key {unknown[0]!r} (expected version, accepted)")
        accepted = top.get("accepted")
        if accepted is None or (isinstance(accepted, yaml.ScalarNode) and accepted.tag == _NULL_TAG):
            return []
        if not isinstance(accepted, yaml.SequenceNode):
            raise self.error(accepted, "'accepted' must be a list of entries")
        return list(accepted.value)

    def _version(self, top: dict[str, yaml.Node], root: yaml.Node) -> None:
        node = top.get("version")
        if node is None:
            raise self.error(root, f"'version' is missing (this tool writes version: {VERSION})")
        if self.text(node, "version") != str(VERSION):
            raise self.error(node, f"version {node.value!r} is not supported (expected {VERSION})")

    def entry(self, node: yaml.Node) -> BaselineEntry:
        fields = self.mapping(node, "an entry")
        unknown = sorted(set(fields) - _KNOWN)
        if unknown:
            expected = ", ".join(sorted(_KNOWN))
            raise self.error(fields[unknown[0]], f"unknown key {unknown[0]!r} (expected {expected})")
        missing = [name for name in _REQUIRED if name not in fields]
        if missing:
            raise self.error(node, f"the entry has no {missing[0]!r}")
        values = {name: self.text(value, name) for name, value in fields.items() if name != "expires"}
        self._check_values(fields, values)
        return BaselineEntry(
            requirement=values["requirement"],
            fingerprint=values["fingerprint"],
            reason=values["reason"],
            kind=values.get("kind", FAILURE),
            summary=values.get("summary", ""),
            expires=self._expires(fields.get("expires")),
            line=node.start_mark.line + 1,
        )

    def _check_values(self, fields: dict[str, yaml.Node], values: dict[str, str]) -> None:
        requirement = values["requirement"]
        if requirement != NO_REQUIREMENT and not _REQUIREMENT.fullmatch(requirement):
            raise self.error(fields["requirement"], f"requirement {requirement!r} is no id such as EXC-03")
        if not _FINGERPRINT.fullmatch(values["fingerprint"]):
            raise self.error(fields["fingerprint"], "fingerprint must be 16 lowercase hex digits, as written")
        if not values["reason"]:
            raise self.error(fields["reason"], "reason is empty: say why the finding is accepted")
        if values.get("kind", FAILURE) not in (FAILURE, ADVISORY):
            raise self.error(fields["kind"], f"kind must be {FAILURE} or {ADVISORY}")

    def _expires(self, node: yaml.Node | None) -> date | None:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
            return None
        value = self.text(node, "expires")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.error(node, f"expires {value!r} is not a date (YYYY-MM-DD)") from None


def _yaml_problem(err: yaml.MarkedYAMLError) -> str:
    """``LINE: not valid YAML (what)``, naming where the broken construct began if elsewhere."""
    mark = err.problem_mark or err.context_mark
    line = mark.line + 1 if mark is not None else 1
    began = err.context_mark.line + 1 if err.context_mark is not None else line
    where = f", in what begins on line {began}" if began != line else ""
    return f"{line}: not valid YAML ({err.problem}{where})"


def read(path: str | Path) -> Baseline:
    """Read and check a baseline file; RunError (exit 2) with the file and line if it is malformed."""
    shown = str(path)
    text = read_user_file(path, "the baseline", when_missing=" (write one with --write-baseline)")
    reader = _Reader(shown)
    entries: list[BaselineEntry] = []
    for node in reader.document(text):
        entry = reader.entry(node)
        earlier = next((e for e in entries if e.key == entry.key), None)
        if earlier is not None:
            raise reader.error(node, f"the same finding as the entry on line {earlier.line}")
        entries.append(entry)
    return Baseline(path=shown, entries=tuple(entries))


_HEADER = """\
# qiibee-conformance baseline: findings accepted for now. `certify --baseline FILE` reports
# them as accepted and fails only on findings not listed here (advisories count with --strict).
# An entry matches a finding by requirement and fingerprint; summary is for people only.
# Give each a reason, and optionally `expires: YYYY-MM-DD` (accepted up to and including that
# day; after it the finding counts again). Entries listed as fixed can be deleted.
"""


def _as_data(entry: BaselineEntry) -> dict[str, str]:
    data = {
        "requirement": entry.requirement,
        "fingerprint": entry.fingerprint,
        "kind": entry.kind,
        "summary": entry.summary,
        "reason": entry.reason,
    }
    if entry.expires is not None:
        data["expires"] = entry.expires.isoformat()
    return data


def render(entries: list[BaselineEntry]) -> str:
    """The text of a baseline file holding ``entries``."""
    body = yaml.safe_dump(
        {"version": VERSION, "accepted": [_as_data(e) for e in entries]},
        sort_keys=False,
        allow_unicode=True,
        width=1000,
        default_style=None,
    )
    return _HEADER + body


def write(path: str | Path, entries: list[BaselineEntry]) -> Path:
    """Write the baseline file; RunError if it cannot be written."""
    target = Path(path).expanduser()
    try:
        target.write_text(render(entries), encoding="utf-8")
    except OSError as err:
        raise RunError(f"cannot write the baseline {path}: {err.strerror or err}") from None
    return target
