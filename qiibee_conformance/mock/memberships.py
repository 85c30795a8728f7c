"""Memberships: one number per provider per user, validated per provider."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from qiibee_conformance.mock.catalogue import BRAND_ID
from qiibee_conformance.mock.providers import AIRLINES, valid_number
from qiibee_conformance.mock.state import MockState, read_json, state_of
from qiibee_conformance.mock.validation import ApiError, wrapper

PROVIDERS = frozenset({*AIRLINES, BRAND_ID})


def _known_provider(st: MockState, provider: str, unknown_status: int = 400) -> None:
    if provider not in PROVIDERS:
        raise ApiError(f"unknown exchange provider {provider!r}", unknown_status)


async def create_membership(request: Request) -> Response:
    st = state_of(request)
    m = wrapper(await read_json(request, st), "membership")
    user = st.user_or_404(request.path_params["auth_id"])
    provider = m.get("brand_id")
    number = m.get("membership_number")
    if not isinstance(provider, str) or not provider:
        raise ApiError("membership.brand_id is required and must be a string")
    if not isinstance(number, str):
        raise ApiError("membership.membership_number is required and must be a string")
    # The fault stores any provider as given, with whatever number it was sent.
    lax_provider = provider not in PROVIDERS and st.fault("membership-unknown-provider-accepted")
    if not lax_provider:
        _known_provider(st, provider)
    existed = st.store.membership(user.pk, provider) is not None
    # The update fault validates a number only when the user has none yet for the provider.
    lax_update = st.fault("membership-update-unvalidated") and existed
    if not (lax_provider or lax_update or st.fault("membership-number-unvalidated")) and not valid_number(
        provider, number, brand_id=BRAND_ID, auth_id=user.auth_id
    ):
        raise ApiError(f"invalid format for the {provider} membership number")
    stored = st.store.put_membership(user.pk, provider, number, keep_first=st.fault("membership-keeps-first"))
    st.deleted_memberships.pop((user.pk, provider), None)
    # literal-reading: replacing an existing membership is an update, so 200 rather than 201
    status = 200 if existed and st.variant("literal-reading") else 201
    return st.ok(st.renderer.membership(provider, stored), status)


async def list_memberships(request: Request) -> Response:
    st = state_of(request)
    auth_id = request.path_params["auth_id"]
    if st.fault("membership-list-unknown-user-200") and st.store.user_by_auth_id(auth_id) is None:
        return st.ok([])
    user = st.user_or_404(auth_id)
    return st.ok([st.renderer.membership(p, n) for p, n in st.store.memberships(user.pk)])


async def get_membership(request: Request) -> Response:
    st = state_of(request)
    user = st.user_or_404(request.path_params["auth_id"])
    provider = request.path_params["provider"]
    _known_provider(st, provider, 404 if st.variant("unknown-provider-404") else 400)
    number = st.store.membership(user.pk, provider)
    if number is None and st.fault("membership-provider-ignored"):
        # The fault looks the membership up by user alone: any provider finds the first one.
        provider, number = next(iter(st.store.memberships(user.pk)), (provider, None))
    if number is None and st.fault("stateful-deleted-membership-served"):
        # The fault serves what a 204 DELETE removed, as a stale cache would.
        number = st.deleted_memberships.get((user.pk, provider))
    if number is None:
        raise ApiError(f"no {provider} membership for this user", 404)
    return st.ok(st.renderer.membership(provider, number))


async def delete_membership(request: Request) -> Response:
    st = state_of(request)
    user = st.user_or_404(request.path_params["auth_id"])
    provider = request.path_params["provider"]
    _known_provider(st, provider)
    number = st.store.membership(user.pk, provider)
    if number is None or not st.store.delete_membership(user.pk, provider):
        raise ApiError(f"no {provider} membership for this user", 404)
    if st.fault("membership-delete-200"):
        return st.ok(st.renderer.membership(provider, number))
    if st.fault("stateful-deleted-membership-served"):
        st.deleted_memberships[(user.pk, provider)] = number
    return Response(status_code=204)
