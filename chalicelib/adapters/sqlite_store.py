"""ProfileStore and QuestionStore on SQLite (the embedded profile)."""
from __future__ import annotations

import dataclasses
import json
from typing import Iterable, Iterator, Sequence

from ..domain import OPEN_RELAY_STATES, Answer, Profile, Question, Record, Relay, normalize_skill
from ..errors import Conflict, NotFound
from ..ports import Page
from .sqlite_db import (SQLiteDatabase, add_column, decode_cursor, dumps, encode_cursor,
                        fts_query)

PROFILE_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    active INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    department TEXT,
    user_name TEXT,
    email TEXT,
    external_id TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS profiles_user_name ON profiles(user_name)
    WHERE user_name <> '' AND deleted = 0;
CREATE INDEX IF NOT EXISTS profiles_email ON profiles(email);
CREATE INDEX IF NOT EXISTS profiles_external_id ON profiles(external_id);
CREATE TABLE IF NOT EXISTS profile_skills (
    profile_id TEXT NOT NULL,
    skill_key TEXT NOT NULL,
    PRIMARY KEY (profile_id, skill_key)
);
CREATE INDEX IF NOT EXISTS profile_skills_key ON profile_skills(skill_key);
CREATE TABLE IF NOT EXISTS profile_watched_tags (
    profile_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (profile_id, tag)
);
CREATE INDEX IF NOT EXISTS profile_watched_tags_tag ON profile_watched_tags(tag);
"""
# Directory search, keyed by profiles.rowid (which a write keeps): replacing a profile's row
# is a lookup, not a scan. (Databases from before keyed it by an UNINDEXED id column:
# SQLiteProfileStore rebuilds it once.)
PROFILE_SEARCH_TABLE = """CREATE VIRTUAL TABLE IF NOT EXISTS profiles_fts USING fts5(
    name, skills, text, tokenize = 'unicode61 remove_diacritics 2'
)"""
PROFILE_SCHEMA += PROFILE_SEARCH_TABLE + ";\n"

QUESTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    asker_id TEXT NOT NULL,
    status TEXT NOT NULL,
    seq INTEGER NOT NULL,
    community_id TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS questions_seq ON questions(seq);
CREATE INDEX IF NOT EXISTS questions_asker ON questions(asker_id, seq);
CREATE INDEX IF NOT EXISTS questions_status ON questions(status, seq);
CREATE TABLE IF NOT EXISTS question_tags (
    question_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (tag, question_id)
);
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    question_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_seq ON answers(seq);
CREATE INDEX IF NOT EXISTS answers_question ON answers(question_id, seq);
CREATE INDEX IF NOT EXISTS answers_author ON answers(author_id, seq);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL,
    voter_id TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (answer_id, voter_id)
);
CREATE TABLE IF NOT EXISTS relays (
    question_id TEXT NOT NULL,
    expert_id TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    due_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (question_id, expert_id)
);
CREATE INDEX IF NOT EXISTS relays_seq ON relays(seq);
CREATE INDEX IF NOT EXISTS relays_expert ON relays(expert_id, state);
CREATE INDEX IF NOT EXISTS relays_due ON relays(state, due_at);
"""


def _page(rows: list, offset: int, limit: int, total: int | None = None) -> Page:
    """Rows were fetched with limit + 1 to learn whether a next page exists."""
    more = len(rows) > limit
    return Page(items=rows[:limit], next_cursor=encode_cursor(offset + limit) if more else None,
                total=total)


# Profile.from_dict, faster (get_many loads a thousand profiles per routing): the fields are
# listed once, and a stored record holding exactly the fields (the usual case) becomes the
# object's attributes as __init__ would set them (plain dataclass: no __post_init__).
_PROFILE_FIELDS = frozenset(f.name for f in dataclasses.fields(Profile))
assert Profile.from_dict.__func__ is Record.from_dict.__func__
assert not hasattr(Profile, "__post_init__") and not hasattr(Profile, "__slots__")


def _profile(data: dict) -> Profile:
    if data.keys() == _PROFILE_FIELDS:
        profile = Profile.__new__(Profile)
        profile.__dict__.update(data)
        return profile
    return Profile(**{k: v for k, v in data.items() if k in _PROFILE_FIELDS})


def _search_fields(profile: Profile) -> tuple[str, str, str]:
    """What directory search reads of a profile: name, skills, free text."""
    return (profile.name, " ; ".join(profile.skills),
            " ".join([profile.bio, profile.department, profile.site]))


ID_CHUNK = 2000  # ids bound in one statement: under SQLite's limit on parameters


def _data_by_id(db: SQLiteDatabase, table: str, ids: Iterable[str], *, column: str = "id",
                where: str = "", order: str = "") -> Iterator[dict]:
    """The decoded `data` of the rows of `table` whose `column` is among `ids` (and that meet
    `where`), read in chunks, each chunk in `order`."""
    ids = list(dict.fromkeys(ids))
    extra = f" AND {where}" if where else ""
    ordered = f" ORDER BY {order}" if order else ""
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start:start + ID_CHUNK]
        marks = ",".join("?" * len(chunk))
        for (data,) in db.tuples(f"SELECT data FROM {table} WHERE {column} IN ({marks})"
                                 f"{extra}{ordered}", chunk):
            yield json.loads(data)


def _grouped(records: Iterable, ids: Iterable[str]) -> dict[str, list]:
    """Records by their question_id, one entry (maybe empty) for each of `ids`, in the order
    the records come."""
    grouped: dict[str, list] = {i: [] for i in ids}
    for record in records:
        grouped[record.question_id].append(record)
    return grouped


class SQLiteProfileStore:
    """ProfileStore on SQLite; directory search uses an FTS5 table kept in step."""

    def __init__(self, db: SQLiteDatabase):
        self.db = db
        db.executescript(PROFILE_SCHEMA)
        self._migrate_search()

    def _migrate_search(self) -> None:
        """A profiles_fts keyed by an UNINDEXED id column (each write scanned it to delete
        the old row) becomes one keyed by profiles.rowid, rebuilt from the profiles."""
        with self.db.transaction() as conn:
            columns = [r[1] for r in conn.execute("PRAGMA table_info(profiles_fts)")]
            if "id" not in columns:
                return
            conn.execute("DROP TABLE profiles_fts")
            conn.execute(PROFILE_SEARCH_TABLE)
            for row in conn.execute("SELECT rowid, data FROM profiles WHERE active = 1"
                                    " AND deleted = 0 ORDER BY rowid").fetchall():
                conn.execute("INSERT INTO profiles_fts (rowid, name, skills, text)"
                             " VALUES (?, ?, ?, ?)",
                             (row[0], *_search_fields(_profile(json.loads(row[1])))))

    @staticmethod
    def _load(row) -> Profile:
        return _profile(json.loads(row["data"]))

    def get(self, profile_id: str) -> Profile | None:
        rows = self.db.query("SELECT data FROM profiles WHERE id = ?", (profile_id,))
        return self._load(rows[0]) if rows else None

    def get_many(self, profile_ids: Iterable[str]) -> dict[str, Profile]:
        return {p.id: p for p in map(_profile, _data_by_id(self.db, "profiles", profile_ids))}

    def find(self, *, user_name=None, email=None, external_id=None) -> Profile | None:
        for column, value in (("user_name", user_name), ("email", email),
                              ("external_id", external_id)):
            if value:
                rows = self.db.query(
                    f"SELECT data FROM profiles WHERE {column} = ? COLLATE NOCASE AND deleted = 0",
                    (value,))
                if rows:
                    return self._load(rows[0])
        return None

    def _write_row(self, conn, profile: Profile) -> None:
        # An upsert, not INSERT OR REPLACE: the row keeps its rowid, which keys profiles_fts.
        rowid = conn.execute(
            "INSERT INTO profiles (id, data, version, active, deleted, department,"
            " user_name, email, external_id) VALUES (?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET data = excluded.data, version = excluded.version,"
            " active = excluded.active, deleted = excluded.deleted,"
            " department = excluded.department, user_name = excluded.user_name,"
            " email = excluded.email, external_id = excluded.external_id RETURNING rowid",
            (profile.id, dumps(profile.to_dict()), profile.version, int(profile.active),
             int(profile.deleted), profile.department, profile.user_name, profile.email.lower(),
             profile.external_id)).fetchone()[0]
        conn.execute("DELETE FROM profile_skills WHERE profile_id = ?", (profile.id,))
        conn.executemany("INSERT OR IGNORE INTO profile_skills VALUES (?, ?)",
                         [(profile.id, normalize_skill(s)) for s in profile.skills])
        conn.execute("DELETE FROM profile_watched_tags WHERE profile_id = ?", (profile.id,))
        conn.executemany("INSERT OR IGNORE INTO profile_watched_tags VALUES (?, ?)",
                         [(profile.id, tag) for tag in profile.watched_tags])
        conn.execute("DELETE FROM profiles_fts WHERE rowid = ?", (rowid,))
        if profile.active and not profile.deleted:
            conn.execute("INSERT INTO profiles_fts (rowid, name, skills, text) VALUES (?,?,?,?)",
                         (rowid, *_search_fields(profile)))

    def _check_user_name(self, conn, profile: Profile) -> None:
        if profile.user_name and not profile.deleted:
            row = conn.execute(
                "SELECT id FROM profiles WHERE user_name = ? COLLATE NOCASE AND deleted = 0"
                " AND id <> ?", (profile.user_name, profile.id)).fetchone()
            if row:
                raise Conflict(f"userName {profile.user_name!r} is already taken",
                               [{"field": "user_name", "message": "already taken"}])

    def add(self, profile: Profile) -> Profile:
        stored = profile.replace(version=1)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM profiles WHERE id = ?", (profile.id,)).fetchone():
                raise Conflict(f"profile {profile.id!r} already exists",
                               [{"field": "id", "message": "already exists"}])
            self._check_user_name(conn, stored)
            self._write_row(conn, stored)
        return stored

    def update(self, profile: Profile) -> Profile:
        stored = profile.replace(version=profile.version + 1)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version FROM profiles WHERE id = ?", (profile.id,)).fetchone()
            if row is None:
                raise NotFound(f"profile {profile.id!r} not found")
            if row["version"] != profile.version:
                raise Conflict(f"profile {profile.id!r} changed since version {profile.version}",
                               [{"field": "version", "message": f"current is {row['version']}"}])
            self._check_user_name(conn, stored)
            self._write_row(conn, stored)
        return stored

    def list(self, *, limit, cursor=None, include_inactive=False, department=None) -> Page:
        offset = decode_cursor(cursor)
        where, params = ["deleted = 0"], []
        if not include_inactive:
            where.append("active = 1")
        if department:
            where.append("department = ?")
            params.append(department)
        clause = " AND ".join(where)
        total = self.db.query(f"SELECT COUNT(*) AS n FROM profiles WHERE {clause}", params)[0]["n"]
        rows = self.db.query(f"SELECT data FROM profiles WHERE {clause} ORDER BY id LIMIT ? OFFSET ?",
                             [*params, limit + 1, offset])
        return _page([self._load(r) for r in rows], offset, limit, total)

    def search(self, *, text="", skill="", limit=20, cursor=None) -> Page:
        offset = decode_cursor(cursor)
        joins, where, params = [], ["p.active = 1", "p.deleted = 0"], []
        order = "p.id"
        match = fts_query(text)
        if match:
            joins.append("JOIN profiles_fts f ON f.rowid = p.rowid")
            # Name and skills weigh more than free text.
            where.append("profiles_fts MATCH ?")
            params.append(match)
            order = "bm25(profiles_fts, 4.0, 3.0, 1.0), p.id"
        if skill:
            joins.append("JOIN profile_skills s ON s.profile_id = p.id AND s.skill_key = ?")
            params.insert(0, normalize_skill(skill))
        sql = (f"FROM profiles p {' '.join(joins)} WHERE {' AND '.join(where)}")
        total = self.db.query(f"SELECT COUNT(*) AS n {sql}", params)[0]["n"]
        rows = self.db.query(f"SELECT p.data {sql} ORDER BY {order} LIMIT ? OFFSET ?",
                             [*params, limit + 1, offset])
        return _page([self._load(r) for r in rows], offset, limit, total)

    def all_ids(self) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM profiles ORDER BY id")]

    def watchers(self, tags: Iterable[str]) -> set[str]:
        tags = list(dict.fromkeys(tags))  # a question has a few
        if not tags:
            return set()
        return {profile_id for (profile_id,) in self.db.tuples(
            "SELECT DISTINCT w.profile_id FROM profile_watched_tags w"
            " JOIN profiles p ON p.id = w.profile_id AND p.active = 1 AND p.deleted = 0"
            f" WHERE w.tag IN ({','.join('?' * len(tags))})", tags)}


class SQLiteQuestionStore:
    """QuestionStore on SQLite."""

    def __init__(self, db: SQLiteDatabase):
        self.db = db
        db.executescript(QUESTION_SCHEMA)
        # Databases from before kept a question's community and last change in its data only.
        added = [add_column(db, "questions", column, "TEXT NOT NULL DEFAULT ''")
                 for column in ("community_id", "updated_at")]
        if any(added):
            db.executescript(
                "UPDATE questions SET"
                " community_id = COALESCE(json_extract(data, '$.community_id'), ''),"
                " updated_at = COALESCE(json_extract(data, '$.updated_at'), '');")
        db.executescript("CREATE INDEX IF NOT EXISTS questions_community_changes"
                         " ON questions(community_id, updated_at) WHERE community_id <> '';")

    # Questions -------------------------------------------------------------------------
    def _next_seq(self, conn, table: str) -> int:
        return conn.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()[0]

    def add_question(self, question: Question) -> Question:
        stored = question.replace(version=1)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM questions WHERE id = ?", (question.id,)).fetchone():
                raise Conflict(f"question {question.id!r} already exists")
            conn.execute("INSERT INTO questions (id, data, version, asker_id, status, seq,"
                         " community_id, updated_at) VALUES (?,?,?,?,?,?,?,?)",
                         (stored.id, dumps(stored.to_dict()), 1, stored.asker_id, stored.status,
                          self._next_seq(conn, "questions"), stored.community_id or "",
                          stored.updated_at))
            conn.executemany("INSERT OR IGNORE INTO question_tags VALUES (?, ?)",
                             [(stored.id, t) for t in stored.tags])
        return stored

    def get_question(self, question_id: str) -> Question | None:
        rows = self.db.query("SELECT data FROM questions WHERE id = ?", (question_id,))
        return Question.from_dict(json.loads(rows[0]["data"])) if rows else None

    def get_questions(self, question_ids: Iterable[str]) -> dict[str, Question]:
        return {q.id: q for q in map(Question.from_dict,
                                     _data_by_id(self.db, "questions", question_ids))}

    def update_question(self, question: Question) -> Question:
        stored = question.replace(version=question.version + 1)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version FROM questions WHERE id = ?",
                               (question.id,)).fetchone()
            if row is None:
                raise NotFound(f"question {question.id!r} not found")
            if row["version"] != question.version:
                raise Conflict(f"question {question.id!r} changed since version {question.version}",
                               [{"field": "version", "message": f"current is {row['version']}"}])
            conn.execute("UPDATE questions SET data = ?, version = ?, status = ?,"
                         " community_id = ?, updated_at = ? WHERE id = ?",
                         (dumps(stored.to_dict()), stored.version, stored.status,
                          stored.community_id or "", stored.updated_at, stored.id))
            conn.execute("DELETE FROM question_tags WHERE question_id = ?", (stored.id,))
            conn.executemany("INSERT OR IGNORE INTO question_tags VALUES (?, ?)",
                             [(stored.id, t) for t in stored.tags])
        return stored

    def list_questions(self, *, limit, cursor=None, asker_id=None, status=None, tag=None) -> Page:
        offset = decode_cursor(cursor)
        joins, where, params = "", [], []
        if tag:
            joins = "JOIN question_tags t ON t.question_id = q.id AND t.tag = ?"
            params.append(tag)
        if asker_id:
            where.append("q.asker_id = ?")
            params.append(asker_id)
        if status:
            where.append("q.status = ?")
            params.append(status)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        total = self.db.query(f"SELECT COUNT(*) AS n FROM questions q {joins} {clause}",
                              params)[0]["n"]
        rows = self.db.query(
            f"SELECT q.data FROM questions q {joins} {clause} ORDER BY q.seq DESC LIMIT ? OFFSET ?",
            [*params, limit + 1, offset])
        return _page([Question.from_dict(json.loads(r["data"])) for r in rows], offset, limit, total)

    def questions_on_tags(self, tags, *, limit, cursor=None, status=None) -> Page:
        offset = decode_cursor(cursor)
        tags = list(dict.fromkeys(tags))
        if not tags:
            return Page(items=[], total=0)
        clause = (f"WHERE q.id IN (SELECT question_id FROM question_tags"
                  f" WHERE tag IN ({','.join('?' * len(tags))}))")
        params = list(tags)
        if status:
            clause += " AND q.status = ?"
            params.append(status)
        total = self.db.query(f"SELECT COUNT(*) AS n FROM questions q {clause}", params)[0]["n"]
        rows = self.db.query(
            f"SELECT q.data FROM questions q {clause} ORDER BY q.seq DESC LIMIT ? OFFSET ?",
            [*params, limit + 1, offset])
        return _page([Question.from_dict(json.loads(r["data"])) for r in rows], offset, limit, total)

    def community_questions_changed_since(self, community_id, since) -> list[Question]:
        if not community_id:
            return []
        rows = self.db.query("SELECT data FROM questions WHERE community_id = ?"
                             " AND updated_at >= ? ORDER BY updated_at, id", (community_id, since))
        return [Question.from_dict(json.loads(r["data"])) for r in rows]

    # Answers ---------------------------------------------------------------------------
    def add_answer(self, answer: Answer) -> Answer:
        stored = answer.replace(version=1)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer.id,)).fetchone():
                raise Conflict(f"answer {answer.id!r} already exists")
            conn.execute("INSERT INTO answers VALUES (?,?,?,?,?,?,?)",
                         (stored.id, stored.question_id, stored.author_id, dumps(stored.to_dict()),
                          1, int(stored.deleted), self._next_seq(conn, "answers")))
        return stored

    def get_answer(self, answer_id: str) -> Answer | None:
        rows = self.db.query("SELECT data FROM answers WHERE id = ?", (answer_id,))
        return Answer.from_dict(json.loads(rows[0]["data"])) if rows else None

    def update_answer(self, answer: Answer) -> Answer:
        stored = answer.replace(version=answer.version + 1)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version FROM answers WHERE id = ?", (answer.id,)).fetchone()
            if row is None:
                raise NotFound(f"answer {answer.id!r} not found")
            if row["version"] != answer.version:
                raise Conflict(f"answer {answer.id!r} changed since version {answer.version}",
                               [{"field": "version", "message": f"current is {row['version']}"}])
            conn.execute("UPDATE answers SET data = ?, version = ?, deleted = ? WHERE id = ?",
                         (dumps(stored.to_dict()), stored.version, int(stored.deleted), stored.id))
        return stored

    def answers_for(self, question_id: str) -> list[Answer]:
        return self.answers_for_questions([question_id])[question_id]

    def answers_for_questions(self, question_ids: Iterable[str]) -> dict[str, list[Answer]]:
        ids = list(dict.fromkeys(question_ids))
        return _grouped(map(Answer.from_dict, _data_by_id(
            self.db, "answers", ids, column="question_id", where="deleted = 0", order="seq")), ids)

    def answers_by(self, author_id: str) -> list[Answer]:
        rows = self.db.query("SELECT data FROM answers WHERE author_id = ? AND deleted = 0"
                             " ORDER BY seq", (author_id,))
        return [Answer.from_dict(json.loads(r["data"])) for r in rows]

    def set_vote(self, answer_id: str, voter_id: str, value: int) -> int:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT data FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if row is None:
                raise NotFound(f"answer {answer_id!r} not found")
            if value == 0:
                conn.execute("DELETE FROM votes WHERE answer_id = ? AND voter_id = ?",
                             (answer_id, voter_id))
            else:
                conn.execute("INSERT OR REPLACE INTO votes VALUES (?, ?, ?)",
                             (answer_id, voter_id, value))
            score = conn.execute("SELECT COALESCE(SUM(value), 0) FROM votes WHERE answer_id = ?",
                                 (answer_id,)).fetchone()[0]
            data = json.loads(row["data"])
            data["score"] = score
            data["version"] += 1
            conn.execute("UPDATE answers SET data = ?, version = ? WHERE id = ?",
                         (dumps(data), data["version"], answer_id))
        return score

    # Relays ----------------------------------------------------------------------------
    def put_relay(self, relay: Relay) -> Relay:
        stored = relay.replace(version=relay.version + 1)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version FROM relays WHERE question_id = ? AND expert_id = ?",
                               (relay.question_id, relay.expert_id)).fetchone()
            current = row["version"] if row else 0
            if current != relay.version:
                raise Conflict(f"relay of {relay.question_id!r} to {relay.expert_id!r} changed",
                               [{"field": "version", "message": f"current is {current}"}])
            seq = (conn.execute("SELECT seq FROM relays WHERE question_id = ? AND expert_id = ?",
                                (relay.question_id, relay.expert_id)).fetchone()
                   or [self._next_seq(conn, "relays")])[0]
            conn.execute("INSERT OR REPLACE INTO relays VALUES (?,?,?,?,?,?,?)",
                         (stored.question_id, stored.expert_id, dumps(stored.to_dict()),
                          stored.version, stored.state, stored.due_at, seq))
        return stored

    def get_relay(self, question_id: str, expert_id: str) -> Relay | None:
        rows = self.db.query("SELECT data FROM relays WHERE question_id = ? AND expert_id = ?",
                             (question_id, expert_id))
        return Relay.from_dict(json.loads(rows[0]["data"])) if rows else None

    def relays_for_question(self, question_id: str) -> list[Relay]:
        return self.relays_for_questions([question_id])[question_id]

    def relays_for_questions(self, question_ids: Iterable[str]) -> dict[str, list[Relay]]:
        ids = list(dict.fromkeys(question_ids))
        return _grouped(map(Relay.from_dict, _data_by_id(
            self.db, "relays", ids, column="question_id", order="seq")), ids)

    @staticmethod
    def _expert_clause(expert_id: str, states: Sequence[str] | None) -> tuple[str, list]:
        clause, params = "WHERE expert_id = ?", [expert_id]
        if states:
            clause += f" AND state IN ({','.join('?' * len(states))})"
            params += list(states)
        return clause, params

    def relays_for_expert(self, expert_id: str, states: Sequence[str] | None = None) -> list[Relay]:
        clause, params = self._expert_clause(expert_id, states)
        rows = self.db.query(f"SELECT data FROM relays {clause} ORDER BY seq DESC", params)
        return [Relay.from_dict(json.loads(r["data"])) for r in rows]

    def list_relays(self, expert_id: str, *, limit: int, cursor: str | None = None,
                    states: Sequence[str] | None = None) -> Page:
        offset = decode_cursor(cursor)
        clause, params = self._expert_clause(expert_id, states)
        total = self.db.query(f"SELECT COUNT(*) AS n FROM relays {clause}", params)[0]["n"]
        rows = self.db.query(f"SELECT data FROM relays {clause} ORDER BY seq DESC LIMIT ? OFFSET ?",
                             [*params, limit + 1, offset])
        return _page([Relay.from_dict(json.loads(r["data"])) for r in rows], offset, limit, total)

    def open_relay_counts(self, expert_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(expert_ids))
        counts = {i: 0 for i in ids}
        states = list(OPEN_RELAY_STATES)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.db.query(
                f"SELECT expert_id, COUNT(*) AS n FROM relays WHERE expert_id IN"
                f" ({','.join('?' * len(chunk))}) AND state IN ({','.join('?' * len(states))})"
                " GROUP BY expert_id", [*chunk, *states])
            counts.update({r["expert_id"]: r["n"] for r in rows})
        return counts

    def relays_due(self, now: str) -> list[Relay]:
        states = list(OPEN_RELAY_STATES)
        rows = self.db.query(
            f"SELECT data FROM relays WHERE state IN ({','.join('?' * len(states))})"
            " AND due_at <> '' AND due_at <= ? ORDER BY seq", [*states, now])
        return [Relay.from_dict(json.loads(r["data"])) for r in rows]
