"""Error messages: where a body carries one, and whether it keeps it where the documents put it.

"With error message" (DECISIONS D13) is fail-level; that the body is a JSON object is a
reading (D14, warn); which key holds the message is free (D15). AUTH, ERR and the other
groups judge error answers through here.
"""

from __future__ import annotations

import re
from typing import Any

from qiibee_conformance.checks.base import advise, describe_calls
from qiibee_conformance.client import Response
from qiibee_conformance.findings import Nonconformity

# Keys that usually hold the message of an error object, looked at first.
MESSAGE_KEYS = ("error", "message", "errors", "detail", "details", "error_description", "title", "reason")


# A key no target issues; long enough that the redactor hides it too.
INVALID_KEY = "qc-invalid-api-key-0000000000000000"
_TAG = re.compile(r"<[^>]*>")


def shown_message(response: Response) -> tuple[str | None, bool]:
    """The human-readable message an error body carries, and whether the body is a JSON object.

    A JSON object is searched under any key (D15); any other body (plain text, HTML with its
    tags left out, a JSON string) is read as text."""
    body = response.json()
    if isinstance(body, dict):
        return find_message(body), True
    text = body if isinstance(body, str) else _TAG.sub(" ", response.text)
    return find_message(" ".join(text.split())), False


def find_message(body: Any) -> str | None:
    """A non-empty human-readable string anywhere in an error body (preferring message keys)."""
    if isinstance(body, str):
        text = body.strip()
        return text if any(ch.isalpha() for ch in text) else None
    if isinstance(body, dict):
        for key in MESSAGE_KEYS:
            if key in body and (found := find_message(body[key])) is not None:
                return found
        for value in body.values():
            if (found := find_message(value)) is not None:
                return found
    if isinstance(body, list):
        for item in body:
            if (found := find_message(item)) is not None:
                return found
    return None


def judge_messages(responses: list[Response], what: str) -> None:
    """Each response carries a message (D13/D1: fail, all of them reported at once); a message
    outside a JSON object is an advisory (D14)."""
    silent: list[Response] = []
    loose: list[Response] = []
    for response in responses:
        message, is_object = shown_message(response)
        if message is None:
            silent.append(response)
        elif not is_object:
            loose.append(response)
    if silent:
        shown = describe_calls(silent)
        raise Nonconformity(
            f"{len(silent)} {what} carry no error message: {shown}",
            silent,
            expected="a non-empty, human-readable error message",
        )
    shown = describe_calls(loose)
    advise(
        not loose,
        f"{len(loose)} {what} carry their message outside a JSON object: {shown}",
        *loose,
        decision="D14",
        expected='a JSON object such as {"error": "..."}',
    )
