"""SQLite persistence shared by every resource.

A single connection guarded by a lock: the server handles each request in its
own thread, and one SQLite connection must not be used by two threads at once.
Statements autocommit. Table and column names come from the app's own schema
and are quoted anyway.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from typing import Any

Row = dict[str, object]
"""A table row by column name: ints, floats, strings and None, as SQLite returns them."""

DATABASE_ENV = "APP_DATABASE"
IN_MEMORY = ":memory:"


def database_path_from_env() -> str:
    """The SQLite file named by APP_DATABASE, or an in-memory database."""
    return os.environ.get(DATABASE_ENV, "").strip() or IN_MEMORY


def integer(row: Row, column: str) -> int:
    """An INTEGER column of a row (an id, a reference), checked."""
    value = row[column]
    if not isinstance(value, int):
        raise TypeError(f"column {column!r} holds {type(value).__name__}, not an integer")
    return value


def text(row: Row, column: str) -> str:
    """A TEXT column of a row, checked."""
    value = row[column]
    if not isinstance(value, str):
        raise TypeError(f"column {column!r} holds {type(value).__name__}, not text")
    return value


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class ConflictError(Exception):
    """A write violated a unique constraint."""


class Database:
    def __init__(self, path: str = IN_MEMORY) -> None:
        self.path = path
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def _run(self, sql: str, parameters: Iterable[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._connection.execute(sql, tuple(parameters))
        except sqlite3.IntegrityError as error:
            raise ConflictError(str(error)) from error

    def query(self, sql: str, parameters: Iterable[Any] = ()) -> list[Row]:
        with self._lock:
            return [dict(row) for row in self._run(sql, parameters).fetchall()]

    def ensure_table(
        self, table: str, columns: Mapping[str, str], unique: Iterable[str] = ()
    ) -> None:
        """Create the table if missing and add columns that a newer schema introduced."""
        definitions = "".join(f", {quote(name)} {kind}" for name, kind in columns.items())
        with self._lock:
            self._run(
                f"CREATE TABLE IF NOT EXISTS {quote(table)} "
                f"(id INTEGER PRIMARY KEY AUTOINCREMENT{definitions})"
            )
            info = self._run(f"PRAGMA table_info({quote(table)})").fetchall()
            existing = {row["name"] for row in info}
            for name, kind in columns.items():
                if name not in existing:
                    self._run(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(name)} {kind}")
            for name in unique:
                index = quote(f"{table}_{name}_unique")
                self._run(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {quote(table)} ({quote(name)})"
                )

    def insert(self, table: str, values: Mapping[str, Any]) -> Row:
        names = list(values)
        with self._lock:
            if names:
                columns = ", ".join(quote(name) for name in names)
                marks = ", ".join("?" for _ in names)
                sql = f"INSERT INTO {quote(table)} ({columns}) VALUES ({marks})"
            else:
                sql = f"INSERT INTO {quote(table)} DEFAULT VALUES"
            row_id = self._run(sql, [values[name] for name in names]).lastrowid
            row = self._run(f"SELECT * FROM {quote(table)} WHERE id = ?", [row_id]).fetchone()
        return dict(row)

    def get(self, table: str, row_id: int) -> Row | None:
        rows = self.query(f"SELECT * FROM {quote(table)} WHERE id = ?", [row_id])
        return rows[0] if rows else None

    def find(self, table: str, column: str, value: Any) -> Row | None:
        rows = self.query(
            f"SELECT * FROM {quote(table)} WHERE {quote(column)} = ? ORDER BY id LIMIT 1",
            [value],
        )
        return rows[0] if rows else None

    def find_all(self, table: str, column: str, value: Any) -> list[Row]:
        return self.query(
            f"SELECT * FROM {quote(table)} WHERE {quote(column)} = ? ORDER BY id", [value]
        )

    def list(
        self, table: str, limit: int, offset: int, filters: Mapping[str, Any] | None = None
    ) -> list[Row]:
        """Rows in id order; ``filters`` keeps rows whose columns equal the given values."""
        conditions = [f"{quote(name)} = ?" for name in filters or {}]
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return self.query(
            f"SELECT * FROM {quote(table)}{where} ORDER BY id LIMIT ? OFFSET ?",
            [*(filters or {}).values(), limit, offset],
        )

    def update(self, table: str, row_id: int, values: Mapping[str, Any]) -> Row | None:
        if values:
            assignments = ", ".join(f"{quote(name)} = ?" for name in values)
            with self._lock:
                self._run(
                    f"UPDATE {quote(table)} SET {assignments} WHERE id = ?",
                    [*values.values(), row_id],
                )
        return self.get(table, row_id)

    def delete(self, table: str, row_id: int) -> bool:
        with self._lock:
            return self._run(f"DELETE FROM {quote(table)} WHERE id = ?", [row_id]).rowcount > 0
