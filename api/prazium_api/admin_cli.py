"""`python -m prazium_api.admin_cli create-key --tenant NS --tier pro [--admin]`.

Prints a new API key (shown once; only its hash is stored), creates the tenant
namespace when it does not exist yet and, in a cluster (PRAZIUM_TENANT_CLUSTER_ROLE),
binds the API's tenant ClusterRole there (prazium_api.tenant_access).
"""

from __future__ import annotations

import argparse
import sys

import psycopg
from kubernetes.client.exceptions import ApiException

from prazium_api.keys import TIERS, create_key
from prazium_api.settings import get_api_settings
from prazium_api.tenant_access import ensure_namespace, grant_api
from prazium_kit import db, kube
from prazium_kit.ids import DNS1123_LABEL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prazium-admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key for a tenant")
    create.add_argument("--tenant", required=True, help="the tenant's namespace")
    create.add_argument("--tier", default="free", choices=TIERS)
    create.add_argument("--admin", action="store_true", help="may read /v1/admin/stats")
    args = parser.parse_args(argv)

    if not DNS1123_LABEL.match(args.tenant) or len(args.tenant) > 63:
        parser.error(f"--tenant {args.tenant!r} is not a valid namespace name")
    settings = get_api_settings()
    kube.load_config(settings.kubeconfig)
    try:
        created = ensure_namespace(args.tenant)
        granted = grant_api(settings, args.tenant)
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


if __name__ == "__main__":
    sys.exit(main())
