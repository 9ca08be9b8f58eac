"""`prazium-admin create-key --tenant NS --tier pro [--admin]`, `list-keys [--tenant NS]`,
`revoke-key KEY_ID`: API keys straight in PostgreSQL (no API key needed).

create-key prints a new API key (shown once; only its hash is stored), creates the
tenant namespace when it does not exist yet (an existing namespace must be a tenant
already: labelled prazium.io/tenant=true) and, in a cluster
(PRAZIUM_TENANT_CLUSTER_ROLE), binds the API's tenant ClusterRole there
(prazium_api.tenant_access). The same operations over HTTP: /v1/admin/keys
(routers/keys.py) and `prazium keys ...`.
"""

from __future__ import annotations

import argparse
import sys

import psycopg
from kubernetes.client.exceptions import ApiException

from prazium_api.auth.keys import TIERS, KeyRecord, create_key, list_keys, revoke_key
from prazium_api.auth.tenant_access import NotATenant, ensure_namespace, grant_api
from prazium_api.settings import get_api_settings
from prazium_kit import db, kube
from prazium_kit.ids import DNS1123_LABEL
from prazium_kit.timefmt import iso_z


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prazium-admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key for a tenant")
    create.add_argument("--tenant", required=True, help="the tenant's namespace")
    create.add_argument("--tier", default="free", choices=TIERS)
    create.add_argument("--admin", action="store_true", help="may use /v1/admin/* (stats, keys)")
    listing = commands.add_parser("list-keys", help="list API keys (never the keys themselves)")
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = commands.add_parser("revoke-key", help="revoke an API key by its id (key_...)")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    if args.command == "list-keys":
        return _list_keys(args.tenant)
    if args.command == "revoke-key":
        return _revoke_key(args.key_id)

    if not DNS1123_LABEL.fullmatch(args.tenant) or len(args.tenant) > 63:
        parser.error(f"--tenant {args.tenant!r} is not a valid namespace name")
    settings = get_api_settings()
    kube.load_config(settings.kubeconfig)
    try:
        created = ensure_namespace(args.tenant)
        granted = grant_api(settings, args.tenant)
    except NotATenant as exc:
        print(f"cannot create a key for tenant {args.tenant}: {exc}", file=sys.stderr)
        return 1
    except ApiException as exc:
        # Forbidden by RBAC or the chart's admission policy: say which and why.
        reason = (exc.body or exc.reason or "").strip()
        print(
            f"cannot set up tenant namespace {args.tenant}: {exc.status} {reason}", file=sys.stderr
        )
        return 1
    db.migrate(settings.database_url)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        key_id, key = create_key(conn, args.tenant, args.tier, args.admin)
    if created:
        print(f"created namespace {args.tenant}", file=sys.stderr)
    if granted:
        print(f"bound {settings.tenant_cluster_role} to the API in {args.tenant}", file=sys.stderr)
    print(
        f"key id {key_id} (tenant {args.tenant}, tier {args.tier}"
        f"{', admin' if args.admin else ''}); the key is shown once:",
        file=sys.stderr,
    )
    print(key)
    return 0


def _describe(record: KeyRecord) -> str:
    revoked = f"revoked {iso_z(record.revoked_at)}" if record.revoked_at else "active"
    return "\t".join(
        [
            record.id,
            record.tenant,
            record.tier,
            "admin" if record.is_admin else "-",
            record.prefix or "-",
            iso_z(record.created_at),
            revoked,
        ]
    )


def _list_keys(tenant: str | None) -> int:
    settings = get_api_settings()
    db.migrate(settings.database_url)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        records, _ = list_keys(conn, tenant, 1_000_000, 0)
    print("\t".join(["ID", "TENANT", "TIER", "ADMIN", "PREFIX", "CREATED", "STATE"]))
    for record in records:
        print(_describe(record))
    return 0


def _revoke_key(key_id: str) -> int:
    settings = get_api_settings()
    db.migrate(settings.database_url)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        revoked = revoke_key(conn, key_id)
    if revoked is None:
        print(f"no API key {key_id}", file=sys.stderr)
        return 1
    print(_describe(revoked[0]))
    print(
        "refused within PRAZIUM_KEY_CACHE_SECONDS (default 5 s) by every API replica",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
