"""CommunityStore, SettingStore, AuditLog and VoteReader on SQLite (the embedded profile).

They share the SQLiteDatabase that bootstrap opens for the other embedded stores. The tables
hold no hierarchy field: membership and community roles never refer to title, grade or manager.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Iterable

from ..domain import (AuditEntry, Community, CommunityRole, Membership, Thanks,
                      community_name_key)
from ..errors import Conflict, NotFound
from ..ports import Page
from .sqlite_db import SQLiteDatabase, decode_cursor, dumps, encode_cursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS communities (
    id TEXT PRIMARY KEY,
    name_key TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS communities_name ON communities(name_key);
CREATE TABLE IF NOT EXISTS community_members (
    community_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (community_id, person_id)
);
CREATE INDEX IF NOT EXISTS community_members_person ON community_members(person_id);
CREATE TABLE IF NOT EXISTS community_roles (
    community_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    role TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    assigned_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (community_id, person_id, role)
);
CREATE INDEX IF NOT EXISTS community_roles_person ON community_roles(person_id);
CREATE TABLE IF NOT EXISTS community_questions (
    community_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    PRIMARY KEY (community_id, question_id)
);
CREATE INDEX IF NOT EXISTS community_questions_time ON community_questions(community_id, asked_at);
CREATE TABLE IF NOT EXISTS thanks (
    id TEXT PRIMARY KEY,
    community_id TEXT NOT NULL,
    from_id TEXT NOT NULL,
    to_id TEXT NOT NULL,
    data TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS thanks_to ON thanks(to_id, seq);
CREATE INDEX IF NOT EXISTS thanks_from ON thanks(from_id, seq);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    action TEXT NOT NULL,
    actor_id TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log(action, seq);
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log(actor_id, seq);
"""


def _page(rows: list, offset: int, limit: int, total: int | None = None) -> Page:
    more = len(rows) > limit
    return Page(items=rows[:limit], next_cursor=encode_cursor(offset + limit) if more else None,
                total=total)


def _next_seq(conn, table: str) -> int:
    return conn.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()[0]


def _role(row) -> CommunityRole:
    return CommunityRole(community_id=row["community_id"], person_id=row["person_id"],
                         role=row["role"], assigned_by=row["assigned_by"],
                         assigned_at=row["assigned_at"])


def _membership(row) -> Membership:
    return Membership(community_id=row["community_id"], person_id=row["person_id"],
                      joined_at=row["joined_at"])


class SQLiteCommunityStore:
    """CommunityStore on SQLite."""

    def __init__(self, db: SQLiteDatabase):
        self.db = db
        db.executescript(SCHEMA)

    # Communities -----------------------------------------------------------------------
    @staticmethod
    def _load(row) -> Community:
        return Community.from_dict(json.loads(row["data"]))

    @staticmethod
    def _name_taken(conn, community: Community) -> None:
        row = conn.execute("SELECT id FROM communities WHERE name_key = ? AND id <> ?",
                           (community_name_key(community.name), community.id)).fetchone()
        if row:
            raise Conflict(f"a community named {community.name!r} already exists",
                           [{"field": "name", "message": "already taken"}])

    def add_community(self, community: Community) -> Community:
        stored = community.replace(version=1)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM communities WHERE id = ?", (community.id,)).fetchone():
                raise Conflict(f"community {community.id!r} already exists",
                               [{"field": "id", "message": "already exists"}])
            self._name_taken(conn, stored)
            conn.execute("INSERT INTO communities VALUES (?,?,?,?)",
                         (stored.id, community_name_key(stored.name), dumps(stored.to_dict()), 1))
        return stored

    def get_community(self, community_id: str) -> Community | None:
        rows = self.db.query("SELECT data FROM communities WHERE id = ?", (community_id,))
        return self._load(rows[0]) if rows else None

    def update_community(self, community: Community) -> Community:
        stored = community.replace(version=community.version + 1)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version FROM communities WHERE id = ?",
                               (community.id,)).fetchone()
            if row is None:
                raise NotFound(f"community {community.id!r} not found")
            if row["version"] != community.version:
                raise Conflict(f"community {community.id!r} changed since version "
                               f"{community.version}",
                               [{"field": "version", "message": f"current is {row['version']}"}])
            self._name_taken(conn, stored)
            conn.execute("UPDATE communities SET name_key = ?, data = ?, version = ? WHERE id = ?",
                         (community_name_key(stored.name), dumps(stored.to_dict()),
                          stored.version, stored.id))
        return stored

    def list_communities(self, *, limit: int, cursor: str | None = None,
                         ids: Iterable[str] | None = None) -> Page:
        offset = decode_cursor(cursor)
        where, params = "", []
        if ids is not None:
            wanted = list(dict.fromkeys(ids))
            if not wanted:
                return Page(items=[], total=0)
            where = f"WHERE id IN ({','.join('?' * len(wanted))})"
            params = wanted
        total = self.db.query(f"SELECT COUNT(*) AS n FROM communities {where}", params)[0]["n"]
        rows = self.db.query(f"SELECT data FROM communities {where} ORDER BY name_key, id"
                             " LIMIT ? OFFSET ?", [*params, limit + 1, offset])
        return _page([self._load(r) for r in rows], offset, limit, total)

    # Members ---------------------------------------------------------------------------
    def add_member(self, membership: Membership) -> bool:
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO community_members VALUES (?,?,?,?)",
                (membership.community_id, membership.person_id, membership.joined_at,
                 _next_seq(conn, "community_members")))
            return cursor.rowcount == 1

    def remove_member(self, community_id: str, person_id: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM community_members WHERE community_id = ? AND"
                                " person_id = ?", (community_id, person_id)).rowcount == 1

    def member_ids(self, community_id: str) -> set[str]:
        return {r["person_id"] for r in self.db.query(
            "SELECT person_id FROM community_members WHERE community_id = ?", (community_id,))}

    def list_members(self, community_id: str, *, limit: int, cursor: str | None = None) -> Page:
        offset = decode_cursor(cursor)
        total = self.db.query("SELECT COUNT(*) AS n FROM community_members WHERE community_id = ?",
                              (community_id,))[0]["n"]
        rows = self.db.query("SELECT * FROM community_members WHERE community_id = ?"
                             " ORDER BY seq LIMIT ? OFFSET ?", (community_id, limit + 1, offset))
        return _page([_membership(r) for r in rows], offset, limit, total)

    def member_counts(self, community_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(community_ids))
        counts = {i: 0 for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.db.query(
                "SELECT community_id, COUNT(*) AS n FROM community_members WHERE community_id IN"
                f" ({','.join('?' * len(chunk))}) GROUP BY community_id", chunk)
            counts.update({r["community_id"]: r["n"] for r in rows})
        return counts

    def memberships_of(self, person_id: str) -> list[Membership]:
        return [_membership(r) for r in self.db.query(
            "SELECT * FROM community_members WHERE person_id = ? ORDER BY seq", (person_id,))]

    # Roles -----------------------------------------------------------------------------
    def set_role(self, role: CommunityRole) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(
                "INSERT OR IGNORE INTO community_roles VALUES (?,?,?,?,?,?)",
                (role.community_id, role.person_id, role.role, role.assigned_by,
                 role.assigned_at, _next_seq(conn, "community_roles"))).rowcount == 1

    def remove_role(self, community_id: str, person_id: str, role: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM community_roles WHERE community_id = ? AND"
                                " person_id = ? AND role = ?",
                                (community_id, person_id, role)).rowcount == 1

    def roles_in(self, community_id: str) -> list[CommunityRole]:
        return [_role(r) for r in self.db.query(
            "SELECT * FROM community_roles WHERE community_id = ? ORDER BY seq", (community_id,))]

    def roles_of(self, person_id: str) -> list[CommunityRole]:
        return [_role(r) for r in self.db.query(
            "SELECT * FROM community_roles WHERE person_id = ? ORDER BY seq", (person_id,))]

    # Questions asked in a community ----------------------------------------------------
    def add_question(self, community_id: str, question_id: str, asked_at: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO community_questions VALUES (?,?,?)",
                         (community_id, question_id, asked_at))

    def question_ids(self, community_id: str, since: str = "") -> list[str]:
        return [r["question_id"] for r in self.db.query(
            "SELECT question_id FROM community_questions WHERE community_id = ? AND asked_at >= ?"
            " ORDER BY asked_at, question_id", (community_id, since))]

    # Thanks ----------------------------------------------------------------------------
    def add_thanks(self, thanks: Thanks) -> Thanks:
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM thanks WHERE id = ?", (thanks.id,)).fetchone():
                raise Conflict(f"thanks {thanks.id!r} already exists")
            conn.execute("INSERT INTO thanks VALUES (?,?,?,?,?,?)",
                         (thanks.id, thanks.community_id, thanks.from_id, thanks.to_id,
                          dumps(thanks.to_dict()), _next_seq(conn, "thanks")))
        return thanks

    def thanks_to(self, person_id: str) -> list[Thanks]:
        return [Thanks.from_dict(json.loads(r["data"])) for r in self.db.query(
            "SELECT data FROM thanks WHERE to_id = ? ORDER BY seq DESC", (person_id,))]

    def thanks_from(self, person_id: str) -> list[Thanks]:
        return [Thanks.from_dict(json.loads(r["data"])) for r in self.db.query(
            "SELECT data FROM thanks WHERE from_id = ? ORDER BY seq DESC", (person_id,))]

    # Deletion --------------------------------------------------------------------------
    def forget_person(self, person_id: str) -> dict[str, int]:
        with self.db.transaction() as conn:
            return {
                "memberships": conn.execute("DELETE FROM community_members WHERE person_id = ?",
                                            (person_id,)).rowcount,
                "roles": conn.execute("DELETE FROM community_roles WHERE person_id = ?",
                                      (person_id,)).rowcount,
                "thanks_received": conn.execute("DELETE FROM thanks WHERE to_id = ?",
                                                (person_id,)).rowcount,
            }


class SQLiteSettingStore:
    """SettingStore on SQLite."""

    def __init__(self, db: SQLiteDatabase):
        self.db = db
        db.executescript(SCHEMA)

    def get_setting(self, key: str) -> tuple[object, int]:
        rows = self.db.query("SELECT value, version FROM settings WHERE key = ?", (key,))
        return (json.loads(rows[0]["value"]), rows[0]["version"]) if rows else (None, 0)

    def put_setting(self, key: str, value: object, version: int) -> int:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version FROM settings WHERE key = ?", (key,)).fetchone()
            current = row["version"] if row else 0
            if current != version:
                raise Conflict(f"setting {key!r} changed since version {version}",
                               [{"field": "version", "message": f"current is {current}"}])
            conn.execute("INSERT OR REPLACE INTO settings VALUES (?,?,?)",
                         (key, dumps(value), current + 1))
        return current + 1


class SQLiteAuditLog:
    """AuditLog on SQLite: an append-only table."""

    def __init__(self, db: SQLiteDatabase):
        self.db = db
        db.executescript(SCHEMA)

    def append(self, entry: AuditEntry) -> AuditEntry:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO audit_log (id, action, actor_id, data) VALUES (?,?,?,?)",
                         (entry.id, entry.action, entry.actor_id, dumps(entry.to_dict())))
        return entry

    def list(self, *, limit: int, cursor: str | None = None, action: str | None = None,
             actor_id: str | None = None) -> Page:
        offset = decode_cursor(cursor)
        where, params = [], []
        if action:
            if action.endswith("."):
                escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                where.append("action LIKE ? ESCAPE '\\'")
                params.append(escaped + "%")
            else:
                where.append("action = ?")
                params.append(action)
        if actor_id:
            where.append("actor_id = ?")
            params.append(actor_id)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        total = self.db.query(f"SELECT COUNT(*) AS n FROM audit_log {clause}", params)[0]["n"]
        rows = self.db.query(f"SELECT data FROM audit_log {clause} ORDER BY seq DESC"
                             " LIMIT ? OFFSET ?", [*params, limit + 1, offset])
        return _page([AuditEntry.from_dict(json.loads(r["data"])) for r in rows], offset, limit,
                     total)


class SQLiteVoteReader:
    """VoteReader on the vote table of SQLiteQuestionStore (same database)."""

    def __init__(self, db: SQLiteDatabase):
        self.db = db

    def votes_by(self, voter_id: str) -> list[dict]:
        try:
            rows = self.db.query("SELECT answer_id, value FROM votes WHERE voter_id = ?"
                                 " ORDER BY answer_id", (voter_id,))
        except sqlite3.OperationalError:  # no question store has made its tables here
            return []
        return [{"answer_id": r["answer_id"], "value": r["value"]} for r in rows]
