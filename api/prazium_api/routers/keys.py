"""/v1/admin/keys: list, create and revoke API keys (admin keys only).

An extension of the contract. Answers never carry a key's hash, and carry the key
itself only once, in the answer that created it. A revoked key is refused at once
by the replica that revoked it and by every other replica within
PRAZIUM_KEY_CACHE_SECONDS (their cache of verified keys); its sessions end at once.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Query
from kubernetes.client.exceptions import ApiException

from prazium_api.auth import keys, tenant_access, tenants
from prazium_api.contract.errors import invalid, not_found
from prazium_api.contract.requests import CreateKey
from prazium_api.contract.responses import (
    ApiKey,
    ApiKeyCreated,
    ApiKeyList,
    OffsetPagination,
    Ok,
    ok,
)
from prazium_api.db import Database
from prazium_api.routers.deps import Admin, Db, GateDep, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_kit.ids import DNS1123_LABEL_PATTERN
from prazium_kit.timefmt import iso_z

router = ApiRouter(tags=["System"])
_REVOCATION = (
    "A revoked key answers 401 at once on the replica that revoked it and on every"
    " replica within PRAZIUM_KEY_CACHE_SECONDS (default 5 s); its web sessions end at once."
)


def key_view(record: keys.KeyRecord) -> ApiKey:
    return ApiKey(
        id=record.id,
        tenant=record.tenant,
        tier=record.tier,
        admin=record.is_admin,
        createdAt=iso_z(record.created_at),
        revokedAt=iso_z(record.revoked_at) if record.revoked_at else None,
        prefix=record.prefix,
    )


def _list(database: Database, tenant: str | None, limit: int, offset: int) -> ApiKeyList:
    with database.connection() as conn:
        records, total = keys.list_keys(conn, tenant, limit, offset)
    return ApiKeyList(
        keys=[key_view(r) for r in records],
        pagination=OffsetPagination(total=total, limit=limit, offset=offset),
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
    tenant: Annotated[
        str | None,
        Query(max_length=63, pattern=DNS1123_LABEL_PATTERN, description="Only this tenant's"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Keys per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Keys to skip")] = 0,
) -> Ok[ApiKeyList]:
    return ok(await anyio.to_thread.run_sync(_list, database, tenant, limit, offset))


def _create(database: Database, body: CreateKey) -> ApiKeyCreated:
    with database.connection() as conn:
        key_id, key = keys.create_key(conn, body.tenant, body.tier, body.admin)
        record = keys.get_key(conn, key_id)
    assert record is not None
    return ApiKeyCreated(**dict(key_view(record)), key=key)


@router.post(
    "/admin/keys",
    status_code=201,
    summary="Create an API key (admin keys only)",
    operation_id="createApiKey",
    response_model=Ok[ApiKeyCreated],
    description="The answer is the only place the key is ever shown. The tenant's"
    " namespace must exist (400 otherwise; `prazium-admin create-key` creates it).",
)
async def create_api_key(
    body: CreateKey, admin: Admin, database: Db, settings: Settings
) -> Ok[ApiKeyCreated]:
    if await anyio.to_thread.run_sync(tenants.namespace_active, body.tenant) is False:
        raise invalid(
            f"tenant namespace {body.tenant!r} does not exist or is being deleted;"
            " create the namespace first",
            "tenant",
        )
    # In a cluster (the chart): the API's rights on previews in this tenant's namespace,
    # as `prazium-admin create-key` grants them. The chart's admission policy admits the
    # binding only in namespaces labelled prazium.io/tenant=true.
    try:
        await anyio.to_thread.run_sync(tenant_access.grant_api, settings, body.tenant)
    except ApiException as exc:
        if exc.status not in (403, 422):
            raise
        raise invalid(
            f"namespace {body.tenant!r} is not a Prazium tenant namespace (label it"
            " prazium.io/tenant=true, or create the key with `prazium-admin create-key`)",
            "tenant",
        ) from exc
    return ok(await anyio.to_thread.run_sync(_create, database, body))


def _revoke(database: Database, key_id: str) -> tuple[keys.KeyRecord, str] | None:
    with database.connection() as conn:
        return keys.revoke_key(conn, key_id)


@router.delete(
    "/admin/keys/{keyId}",
    summary="Revoke an API key (admin keys only)",
    operation_id="revokeApiKey",
    response_model=Ok[ApiKey],
    description="Idempotent: revoking a revoked key answers it unchanged. " + _REVOCATION,
)
async def revoke_api_key(keyId: str, admin: Admin, database: Db, gate: GateDep) -> Ok[ApiKey]:
    revoked = await anyio.to_thread.run_sync(_revoke, database, keyId)
    if revoked is None:
        raise not_found(f"API key {keyId}", {"keyId": keyId})
    record, key_hash = revoked
    gate.key_cache.drop(key_hash)
    return ok(key_view(record))
