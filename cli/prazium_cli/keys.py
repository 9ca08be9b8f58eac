"""`prazium keys create|list|revoke`: API keys. create and revoke need an admin key
(/v1/admin/keys); list shows what the key may see (/v1/keys): an admin key every
tenant's keys, any other key its own tenant's."""

from typing import Annotated, Any

import typer

from prazium_cli import timing
from prazium_cli.common import ConfigPath, Output, api, handling
from prazium_cli.output import Column, Format, Listing, emit, err_console

app = typer.Typer(
    help="List API keys; create and revoke them (admin keys only).", no_args_is_help=True
)


def _state(key: dict[str, Any]) -> str:
    return f"[yellow]revoked {key['revokedAt']}[/]" if key.get("revokedAt") else "[green]active[/]"


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="the tenant's namespace (must exist)")],
    tier: Annotated[str, typer.Option(help="free, pro or enterprise")] = "free",
    admin: Annotated[bool, typer.Option("--admin", help="an admin key")] = False,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Create a key; it is printed once (stdout), and never shown again."""
    with handling(output), api(config) as client:
        body = client.call(
            "POST", "/admin/keys", json={"tenant": tenant, "tier": tier, "admin": admin}
        )
        key = body["data"]
        if not output.is_data:
            err_console.print(
                f"key {key['id']} (tenant {key['tenant']}, tier {key['tier']}"
                f"{', admin' if key.get('admin') else ''}); shown once:"
            )
        emit(output, body, key["key"])


@app.command("list")
def list_keys(
    tenant: Annotated[
        str | None, typer.Option(help="only this tenant's keys (another tenant's: admin keys)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """List keys, newest first, never the keys themselves: with an admin key every
    tenant's, with any other key your own tenant's (-o wide: exact times)."""
    with handling(output), api(config) as client:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if tenant:
            params["tenant"] = tenant
        body = client.call("GET", "/keys", params=params)
        rows = Listing(
            output,
            Column("ID", whole=True),
            Column("PREFIX", whole=True, drop=2),
            Column("TENANT", whole=True),
            Column("TIER"),
            Column("ADMIN", drop=1),
            Column("AGE", drop=3),
            Column("LAST USED", drop=4),
            Column("STATE"),
            Column("CREATED", wide=True, drop=6),
            Column("LAST USED AT", wide=True, drop=5),
        )
        for key in body["data"]["keys"]:
            last_used = key.get("lastUsedAt")
            rows.add_row(
                key["id"],
                key.get("prefix") or "-",
                key["tenant"],
                key["tier"],
                "yes" if key.get("admin") else "",
                timing.age(key["createdAt"]),
                f"{timing.age(last_used)} ago" if last_used else "never",
                _state(key),
                key["createdAt"],
                last_used,
            )
        emit(output, body, rows)
        pagination = body["data"].get("pagination") or {}
        if not output.is_data and pagination.get("total", 0) > offset + len(body["data"]["keys"]):
            err_console.print(
                f"[dim]{len(body['data']['keys'])} of {pagination['total']} shown"
                f" (--offset {offset + len(body['data']['keys'])} for more)[/]"
            )


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (key_...)")],
    output: Output = Format.text,
    config: ConfigPath = None,
) -> None:
    """Revoke a key: refused within the API's key cache time (default 5 s)."""
    with handling(output), api(config) as client:
        body = client.call("DELETE", f"/admin/keys/{key_id}")
        emit(output, body, f"{key_id} {_state(body['data'])}")
