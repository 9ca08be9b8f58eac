"""API keys, for admins: list, create (in an existing tenant namespace, with the
API's rights there), revoke (refused at once on this replica, within the key cache
time on the others; its sessions end at once). Answers never carry a key's hash,
and carry the key itself only once, in the answer that created it."""

from __future__ import annotations

import anyio
from kubernetes.client.exceptions import ApiException

from prazium_api.auth import keys, tenant_access, tenants
from prazium_api.auth.gate import Gate
from prazium_api.auth.keys import Principal
from prazium_api.contract.errors import ApiError, invalid, not_found
from prazium_api.contract.requests import CreateKey
from prazium_api.contract.responses import ApiKey, ApiKeyCreated, ApiKeyList, OffsetPagination
from prazium_api.db import Database
from prazium_api.settings import ApiSettings
from prazium_kit.timefmt import iso_z


def key_view(record: keys.KeyRecord) -> ApiKey:
    return ApiKey(
        id=record.id,
        tenant=record.tenant,
        tier=record.tier,
        admin=record.is_admin,
        createdAt=iso_z(record.created_at),
        revokedAt=iso_z(record.revoked_at) if record.revoked_at else None,
        prefix=record.prefix,
        lastUsedAt=iso_z(record.last_used_at) if record.last_used_at else None,
    )


async def list_keys(
    database: Database, tenant: str | None, limit: int, offset: int, admin_keys: bool = True
) -> ApiKeyList:
    """Newest first; of one tenant when given; admin keys left out unless admin_keys."""

    def listed() -> tuple[list[keys.KeyRecord], int]:
        with database.connection() as conn:
            return keys.list_keys(conn, tenant, limit, offset, admin_keys)

    records, total = await anyio.to_thread.run_sync(listed)
    return ApiKeyList(
        keys=[key_view(r) for r in records],
        pagination=OffsetPagination(total=total, limit=limit, offset=offset),
    )


async def list_visible(
    database: Database, caller: Principal, tenant: str | None, limit: int, offset: int
) -> ApiKeyList:
    """The keys the caller may see: an admin key every tenant's (of one tenant when
    given); any other key its own tenant's keys that are not admin keys, and
    FORBIDDEN for another tenant's, whether that tenant exists or not."""
    if caller.is_admin:
        return await list_keys(database, tenant, limit, offset)
    if tenant is not None and tenant != caller.tenant:
        raise ApiError(
            "FORBIDDEN",
            "a tenant's key lists its own tenant's keys only; other tenants' keys need"
            " an admin key",
            {"tenant": tenant},
        )
    return await list_keys(database, caller.tenant, limit, offset, admin_keys=False)


async def create(database: Database, settings: ApiSettings, body: CreateKey) -> ApiKeyCreated:
    """Only for tenant namespaces: a key bound to kube-system or another team's
    namespace would hand out the API's rights there."""
    state = await anyio.to_thread.run_sync(tenants.tenant_state, body.tenant)
    if state is None:
        raise ApiError(
            "INTERNAL_ERROR", f"cannot read namespace {body.tenant} from the Kubernetes API"
        )
    if state == "missing":
        raise invalid(
            f"tenant namespace {body.tenant!r} does not exist or is being deleted;"
            " `prazium-admin create-key` creates tenant namespaces",
            "tenant",
        )
    if state == "foreign":
        raise invalid(
            f"namespace {body.tenant!r} is not a Prazium tenant: keys are made for"
            f" namespaces labelled {tenant_access.TENANT_LABEL}=true only"
            " (`prazium-admin create-key` creates and labels one)",
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

    def created() -> tuple[keys.KeyRecord | None, str]:
        with database.connection() as conn:
            key_id, key = keys.create_key(conn, body.tenant, body.tier, body.admin)
            return keys.get_key(conn, key_id), key

    record, key = await anyio.to_thread.run_sync(created)
    assert record is not None
    return ApiKeyCreated(**dict(key_view(record)), key=key)


async def revoke(database: Database, gate: Gate, key_id: str) -> ApiKey:
    """Idempotent: revoking a revoked key answers it unchanged."""

    def revoked() -> tuple[keys.KeyRecord, str] | None:
        with database.connection() as conn:
            return keys.revoke_key(conn, key_id)

    found = await anyio.to_thread.run_sync(revoked)
    if found is None:
        raise not_found(f"API key {key_id}", {"keyId": key_id})
    record, key_hash = found
    gate.key_cache.drop(key_hash)
    return key_view(record)
