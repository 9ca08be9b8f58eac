"""PostgreSQL connections and versioned schema migrations."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK = 7_236_512_001


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every migrations/NNN_*.sql, in order."""
    found = []
    for entry in resources.files("prazium_kit.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(dsn: str) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the applied names.

    Safe to call from several processes at once: an advisory lock serialises them.
    """
    applied: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)  # type: ignore[arg-type]  # trusted, shipped SQL
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (version, name),
                    )
                log.info("applied migration %s", name)
                applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied


def main() -> None:
    """`python -m prazium_kit.db`: apply migrations to PRAZIUM_DATABASE_URL."""
    from prazium_kit.settings import KitSettings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = migrate(KitSettings().database_url)
    print("migrations applied: " + (", ".join(names) if names else "none pending"))


if __name__ == "__main__":
    main()
