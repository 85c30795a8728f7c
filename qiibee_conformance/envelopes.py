"""Where the object of a success body is: the shapes the documents leave open, read one way.

GET bodies put the payload under ``"data"`` (documented). Creating and updating a user
answer "with the user object", which a correct server may send as ``{"data": user}``,
``{"user": user}`` or the bare user; creating a membership may answer the membership or
the user, under ``"data"`` or bare (DECISIONS: envelopes). Every reader of those bodies
(checks, discovery, the load plan) goes through here, so no one demands one shape.
"""

from __future__ import annotations

from typing import Any

_WRAPPERS = ("data", "user")


def user_object(body: Any) -> dict[str, Any] | None:
    """The user object of a create/update answer, in any tolerated shape; None if there is none.

    A bare object counts as a user when it has a user's fields (``auth_id`` or ``email``).
    """
    if not isinstance(body, dict):
        return None
    for key in _WRAPPERS:
        inner = body.get(key)
        if isinstance(inner, dict) and ("auth_id" in inner or "email" in inner):
            return inner
    return body if ("auth_id" in body or "email" in body) else None


def created_auth_id(body: Any) -> str | None:
    """The auth_id of the user a create answer shows, if it shows one."""
    user = user_object(body)
    auth_id = user.get("auth_id") if user is not None else None
    return auth_id if isinstance(auth_id, str) and auth_id else None


def membership_object(body: Any) -> dict[str, Any] | None:
    """The object a create-membership answer shows (a membership or a user), under "data" or bare."""
    if not isinstance(body, dict):
        return None
    inner = body.get("data")
    if isinstance(inner, dict):
        return inner
    return user_object(body) or (body if "membership_number" in body else None)
