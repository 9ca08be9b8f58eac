"""/v1/admin/keys: list, create and revoke API keys (admin keys only; verbs/keys.py);
/v1/keys: the keys the caller may see (a tenant's key: its own tenant's).

Extensions of the contract. Answers never carry a key's hash, and carry the key
itself only once, in the answer that created it. A revoked key is refused at once
by the replica that revoked it and by every other replica within
PRAZIUM_KEY_CACHE_SECONDS (their cache of verified keys); its sessions end at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from prazium_api.contract.requests import CreateKey
from prazium_api.contract.responses import ApiKey, ApiKeyCreated, ApiKeyList, Ok, ok
from prazium_api.routers.deps import Admin, Caller, Db, GateDep, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import keys
from prazium_kit.ids import DNS1123_LABEL_PATTERN

router = ApiRouter(tags=["System"])
TenantFilter = Annotated[
    str | None,
    Query(max_length=63, pattern=DNS1123_LABEL_PATTERN, description="Only this tenant's"),
]
Limit = Annotated[int, Query(ge=1, le=500, description="Keys per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Keys to skip")]
_REVOCATION = (
    "A revoked key answers 401 at once on the replica that revoked it and on every"
    " replica within PRAZIUM_KEY_CACHE_SECONDS (default 5 s); its web sessions end at once."
)


@router.get(
    "/admin/keys",
    summary="List API keys (admin keys only)",
    operation_id="listApiKeys",
    response_model=Ok[ApiKeyList],
    description="Newest first; never a key or its hash. Revoked keys are listed with revokedAt.",
)
async def list_api_keys(
    admin: Admin,
    database: Db,
    tenant: TenantFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Ok[ApiKeyList]:
    return ok(await keys.list_keys(database, tenant, limit, offset))


@router.get(
    "/keys",
    summary="List the API keys the caller may see",
    operation_id="listVisibleApiKeys",
    response_model=Ok[ApiKeyList],
    description="Extension (not in the contract). A tenant's key: its own tenant's keys"
    " (admin keys left out), and 403 FORBIDDEN when `tenant` names another tenant; an"
    " admin key: every tenant's keys, as GET /admin/keys. Newest first; never a key or"
    " its hash. Revoked keys are listed with revokedAt.",
)
async def list_visible_api_keys(
    caller: Caller,
    database: Db,
    tenant: TenantFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Ok[ApiKeyList]:
    return ok(await keys.list_visible(database, caller, tenant, limit, offset))


@router.post(
    "/admin/keys",
    status_code=201,
    summary="Create an API key (admin keys only)",
    operation_id="createApiKey",
    response_model=Ok[ApiKeyCreated],
    description="The answer is the only place the key is ever shown. The tenant must be"
    " a Prazium tenant namespace, labelled prazium.io/tenant=true (400 otherwise:"
    " `prazium-admin create-key` creates and labels one); admin is a JSON boolean.",
)
async def create_api_key(
    body: CreateKey, admin: Admin, database: Db, settings: Settings
) -> Ok[ApiKeyCreated]:
    return ok(await keys.create(database, settings, body))


@router.delete(
    "/admin/keys/{keyId}",
    summary="Revoke an API key (admin keys only)",
    operation_id="revokeApiKey",
    response_model=Ok[ApiKey],
    description="Idempotent: revoking a revoked key answers it unchanged. " + _REVOCATION,
)
async def revoke_api_key(keyId: str, admin: Admin, database: Db, gate: GateDep) -> Ok[ApiKey]:
    return ok(await keys.revoke(database, gate, keyId))
