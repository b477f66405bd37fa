"""One SQLite database file shared by the embedded adapters."""
from __future__ import annotations

import base64
import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from ..errors import field_error


class SQLiteDatabase:
    """A connection usable from several threads, with a lock around writes.

    SQLite allows one writer at a time; serialising writes in-process avoids SQLITE_BUSY.
    """

    def __init__(self, path: str):
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.lock = threading.RLock()

    @contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE ... COMMIT under the write lock; rolls back on error."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def tuples(self, sql: str, params=()) -> list[tuple]:
        """`query` with plain tuples for rows (cheaper where many rows are read)."""
        with self.lock:
            cursor = self.conn.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, params).fetchall()

    def executescript(self, script: str) -> None:
        with self.lock:
            self.conn.executescript(script)


def add_column(db: SQLiteDatabase, table: str, column: str, declaration: str) -> bool:
    """Bring a table created by an earlier version up to date; True if the column was added."""
    if column in {row["name"] for row in db.query(f"PRAGMA table_info({table})")}:
        return False
    db.executescript(f"ALTER TABLE {table} ADD COLUMN {column} {declaration};")
    return True


def dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """Offset stored in an opaque cursor; a cursor this store did not make is a 422."""
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["o"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
        return offset
    except Exception:
        raise field_error("cursor", "not a cursor returned by this listing") from None


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression: any of the words, each as a prefix, with quotes escaped."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in text).split() if w]
    return " OR ".join('"' + w.replace('"', '""') + '"*' for w in words[:32])
