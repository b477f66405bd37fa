"""CommunityStore, SettingStore, AuditLog and VoteReader on DynamoDB (the aws profile).

Communities, module switches and the audit log share `<prefix>-community`, in single-table
design (COMMUNITY_INDEXES in dynamodb_store.py; docs/dynamodb.md has the items and indexes).
Votes stay where DynamoDBQuestionStore writes them, in `<prefix>-qa`, and are found by voter
through its `votes_by_voter` index. As in dynamodb_store.py, an index only finds: the base item,
read with ConsistentRead, decides what is returned. Nothing here refers to the hierarchy.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from ..domain import (AuditEntry, Community, CommunityRole, Membership, Thanks,
                      community_name_key)
from ..errors import Conflict
from ..ports import Page
from .dynamodb_store import (_bad_cursor, _Cancelled, _decode_cursor, _delete, _DynamoDBTable,
                             _encode_cursor, _Expr, _fingerprint, _free_or_held_by, _key,
                             _order_key, _put, _record, _side_by_side)

COMMUNITY_SK = "COMMUNITY"
NAME_SK = "NAME"
THANKS_SK = "THANKS"
SETTING_SK = "SETTING"
AUDIT_SK = "AUDIT"
ALL_COMMUNITIES = "COMMUNITY"  # name_pk: every community under one key of the by_name index
ALL_ENTRIES = "AUDIT"  # audit_pk: every audit entry under one key of the audit index


def _community_pk(community_id: str) -> str:
    return f"COMMUNITY#{community_id}"


def _name_pk(name_key: str) -> str:
    return f"COMMUNITY_NAME#{name_key}"


def _action_family(action: str) -> str:
    """What an action is indexed under: up to its first dot (`community.` for
    `community.created`), or the whole action when it has none. An action prefix (which ends
    with a dot) lies inside one family, so every action filter reads one family."""
    head, dot, _ = action.partition(".")
    return head + dot


class _RecordTable(_DynamoDBTable):
    """The reads every store here makes: index rows to base items."""

    def _rows(self, index: str, attribute: str, value: str, prefix_attribute: str = "",
              prefix: str = "", forward: bool = True) -> Iterator[dict]:
        """Index rows under one key, optionally only those whose sort key starts with
        `prefix`, in index order."""
        expr = _Expr()
        condition = f"{expr.n(attribute)} = {expr.v(value)}"
        if prefix:
            condition += f" AND begins_with({expr.n(prefix_attribute)}, {expr.v(prefix)})"
        return self._query(IndexName=index, KeyConditionExpression=condition,
                           ScanIndexForward=forward, **expr.params())

    def _found(self, rows: Iterable[dict]) -> list[dict]:
        """The base items of index rows (read consistently), in the rows' order; an item gone
        since the index saw it is left out."""
        rows = list(rows)
        items = self._batch_get((r["pk"], r["sk"]) for r in rows)
        return [items[(r["pk"], r["sk"])] for r in rows if (r["pk"], r["sk"]) in items]

    def _add(self, item: dict) -> bool:
        """Put an item that must not exist yet; False (nothing written) if it does."""
        expr = _Expr()
        try:
            self._commit([_put(self.table, item, f"attribute_not_exists({expr.n('pk')})", expr)])
        except _Cancelled:
            return False
        return True

    def _remove(self, pk: str, sk: str) -> bool:
        """Delete an item; False if there was none (of two concurrent removals, one wins)."""
        response = self.client.delete_item(TableName=self.table, Key=_key(pk, sk),
                                           ReturnValues="ALL_OLD")
        return "Attributes" in response


class DynamoDBCommunityStore(_RecordTable):
    """CommunityStore on DynamoDB.

    A community and everything that belongs to it share its partition (`COMMUNITY#<id>`): the
    record, its memberships, community roles and the questions asked in it. A name guard item
    (`COMMUNITY_NAME#<name key>`), written in the same transaction as the record, keeps names
    unique; a thanks is an item of its own (`THANKS#<id>`). A person's memberships, roles and
    thanks received are found through the `by_person` index.
    """

    # Communities -------------------------------------------------------------------------
    @staticmethod
    def _community_item(community: Community, name_key: str) -> dict:
        item = community.to_dict()
        # The name key is kept (to free exactly the guard it holds on a rename); its sort key
        # has a prefix so that an empty name still makes a valid index key.
        item.update(pk=_community_pk(community.id), sk=COMMUNITY_SK, kind="community",
                    name_key=name_key, name_pk=ALL_COMMUNITIES, name_sk=f"NAME#{name_key}")
        return item

    def _guard_put(self, community_id: str, name_key: str) -> dict:
        expr = _Expr()
        return _put(self.table, {"pk": _name_pk(name_key), "sk": NAME_SK, "kind": "community_name",
                                 "community_id": community_id},
                    _free_or_held_by(expr, "community_id", community_id), expr)

    def _guard_delete(self, community_id: str, name_key: str) -> dict:
        expr = _Expr()
        return _delete(self.table, _name_pk(name_key), NAME_SK,
                       _free_or_held_by(expr, "community_id", community_id), expr)

    @staticmethod
    def _name_taken(community: Community) -> Conflict:
        return Conflict(f"a community named {community.name!r} already exists",
                        [{"field": "name", "message": "already taken"}])

    def add_community(self, community: Community) -> Community:
        stored = community.replace(version=1)
        name_key = community_name_key(stored.name)
        expr = _Expr()
        try:
            self._commit([_put(self.table, self._community_item(stored, name_key),
                               f"attribute_not_exists({expr.n('pk')})", expr),
                          self._guard_put(stored.id, name_key)])
        except _Cancelled as cancelled:
            if cancelled.failed(0):
                raise Conflict(f"community {community.id!r} already exists",
                               [{"field": "id", "message": "already exists"}]) from None
            raise self._name_taken(stored) from None
        return stored

    def get_community(self, community_id: str) -> Community | None:
        item = self._get(_community_pk(community_id), COMMUNITY_SK)
        return _record(Community, item) if item else None

    def update_community(self, community: Community) -> Community:
        what = f"community {community.id!r}"
        old = self._read_for_update(_community_pk(community.id), COMMUNITY_SK, what,
                                    community.version)
        stored = community.replace(version=community.version + 1)
        old_key, new_key = old["name_key"], community_name_key(stored.name)
        expr = _Expr()
        actions = [_put(self.table, self._community_item(stored, new_key),
                        f"{expr.n('version')} = {expr.v(community.version)}", expr)]
        guard_index = None
        if new_key != old_key:
            actions.append(self._guard_delete(stored.id, old_key))
            guard_index = len(actions)
            actions.append(self._guard_put(stored.id, new_key))
        try:
            self._commit(actions)
        except _Cancelled as cancelled:
            if guard_index is not None and cancelled.failed(guard_index):
                raise self._name_taken(stored) from None
            raise self._lost_race(_community_pk(community.id), COMMUNITY_SK, what,
                                  community.version) from None
        return stored

    def _communities(self, ids: Iterable[str]) -> list[Community]:
        items = self._batch_get((_community_pk(i), COMMUNITY_SK) for i in ids)
        return [_record(Community, item) for item in items.values()]

    def list_communities(self, *, limit: int, cursor: str | None = None,
                         ids: Iterable[str] | None = None) -> Page:
        if ids is not None:
            return self._list_some(list(dict.fromkeys(ids)), limit, cursor)
        expr = _Expr()
        query = {"IndexName": "by_name", "KeyConditionExpression": (
            f"{expr.n('name_pk')} = {expr.v(ALL_COMMUNITIES)}"), **expr.params()}
        rows, next_cursor, total = self._keyset_page(
            "communities", _fingerprint(), cursor, limit, query=query,
            partition=("name_pk", ALL_COMMUNITIES), sort_attribute="name_sk",
            count=lambda: self._count(**query))
        items = [_record(Community, item) for item in self._found(rows)]
        return Page(items=items, next_cursor=next_cursor, total=total)

    def _list_some(self, wanted: list[str], limit: int, cursor: str | None) -> Page:
        """The communities among `wanted` (a person's few), read by key and ordered here;
        the cursor holds an offset, as on SQLite."""
        if not wanted:
            return Page(items=[], total=0)
        limit = max(1, limit)
        fingerprint = _fingerprint(sorted(wanted))
        state = _decode_cursor(cursor, "some_communities", fingerprint)
        offset = state.get("o") if state else 0
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise _bad_cursor()
        found = sorted(self._communities(wanted),
                       key=lambda c: (community_name_key(c.name), c.id))
        next_cursor = None
        if offset + limit < len(found):
            next_cursor = _encode_cursor({"c": "some_communities", "f": fingerprint,
                                          "o": offset + limit})
        return Page(items=found[offset:offset + limit], next_cursor=next_cursor,
                    total=len(found))

    # Members -----------------------------------------------------------------------------
    def add_member(self, membership: Membership) -> bool:
        order_key = _order_key(membership.joined_at)
        item = membership.to_dict()
        item.update(pk=_community_pk(membership.community_id),
                    sk=f"MEMBER#{membership.person_id}", kind="member", order_key=order_key)
        # Index keys only when there is a value: DynamoDB refuses an empty key.
        if membership.community_id:
            item["members_pk"] = membership.community_id
        if membership.person_id:
            item.update(person_pk=membership.person_id, person_sk=f"member#{order_key}")
        return self._add(item)

    def remove_member(self, community_id: str, person_id: str) -> bool:
        return self._remove(_community_pk(community_id), f"MEMBER#{person_id}")

    def member_ids(self, community_id: str) -> set[str]:
        rows = self._partition(_community_pk(community_id), "MEMBER#", ("person_id",))
        return {row["person_id"] for row in rows}

    def _member_count(self, community_id: str) -> int:
        return self._count(**self._partition_query(_community_pk(community_id), "MEMBER#"))

    def list_members(self, community_id: str, *, limit: int, cursor: str | None = None) -> Page:
        fingerprint = _fingerprint(community_id)
        if not community_id:
            _decode_cursor(cursor, "members", fingerprint)
            return Page(items=[], total=0)
        expr = _Expr()
        query = {"IndexName": "members", "KeyConditionExpression": (
            f"{expr.n('members_pk')} = {expr.v(community_id)}"), **expr.params()}
        rows, next_cursor, total = self._keyset_page(
            "members", fingerprint, cursor, limit, query=query,
            partition=("members_pk", community_id), sort_attribute="order_key",
            count=lambda: self._member_count(community_id))
        items = [_record(Membership, item) for item in self._found(rows)
                 if item.get("community_id") == community_id]
        return Page(items=items, next_cursor=next_cursor, total=total)

    def member_counts(self, community_ids: Iterable[str]) -> dict[str, int]:
        """One consistent COUNT per community (a page of communities asks for a few dozen)."""
        return _side_by_side(self._member_count, list(dict.fromkeys(community_ids)))

    def _of_person(self, person_id: str, prefix: str, forward: bool = True) -> list[dict]:
        """Base items a person's `by_person` entries under `prefix` point to, in index order."""
        if not person_id:
            return []
        return self._found(self._rows("by_person", "person_pk", person_id, "person_sk", prefix,
                                      forward))

    def memberships_of(self, person_id: str) -> list[Membership]:
        return [_record(Membership, item) for item in self._of_person(person_id, "member#")
                if item.get("person_id") == person_id]

    # Roles -------------------------------------------------------------------------------
    def set_role(self, role: CommunityRole) -> bool:
        order_key = _order_key(role.assigned_at)
        item = role.to_dict()
        item.update(pk=_community_pk(role.community_id),
                    sk=f"ROLE#{role.role}#{role.person_id}", kind="community_role",
                    order_key=order_key)
        if role.person_id:
            item.update(person_pk=role.person_id, person_sk=f"role#{order_key}")
        return self._add(item)

    def remove_role(self, community_id: str, person_id: str, role: str) -> bool:
        return self._remove(_community_pk(community_id), f"ROLE#{role}#{person_id}")

    def roles_in(self, community_id: str) -> list[CommunityRole]:
        items = sorted(self._partition(_community_pk(community_id), "ROLE#"),
                       key=lambda item: item["order_key"])
        return [_record(CommunityRole, item) for item in items]

    def roles_of(self, person_id: str) -> list[CommunityRole]:
        return [_record(CommunityRole, item) for item in self._of_person(person_id, "role#")
                if item.get("person_id") == person_id]

    # Questions asked in a community ------------------------------------------------------
    def add_question(self, community_id: str, question_id: str, asked_at: str) -> None:
        item = {"pk": _community_pk(community_id), "sk": f"QUESTION#{question_id}",
                "kind": "community_question", "community_id": community_id,
                "question_id": question_id, "asked_at": asked_at}
        if community_id:
            item.update(asked_pk=community_id, asked_sk=f"{asked_at}#{question_id}")
        self._add(item)  # the first note of a pair stays, as on SQLite

    def question_ids(self, community_id: str, since: str = "") -> list[str]:
        """Read from the `asked` index alone: an entry never changes once written, and its
        index key holds all it says (the time, and the question id after the `QUESTION#`)."""
        if not community_id:
            return []
        expr = _Expr()
        condition = f"{expr.n('asked_pk')} = {expr.v(community_id)}"
        if since:
            condition += f" AND {expr.n('asked_sk')} >= {expr.v(since)}"
        found = []
        for row in self._query(IndexName="asked", KeyConditionExpression=condition,
                               **expr.params()):
            question_id = row["sk"][len("QUESTION#"):]
            asked_at = row["asked_sk"][:-len(question_id) - 1]
            if asked_at >= since:  # the key condition compares "<time>#<id>": a superset
                found.append((asked_at, question_id))
        return [question_id for _, question_id in sorted(found)]

    # Thanks ------------------------------------------------------------------------------
    def add_thanks(self, thanks: Thanks) -> Thanks:
        order_key = _order_key(thanks.created_at)
        item = thanks.to_dict()
        item.update(pk=f"THANKS#{thanks.id}", sk=THANKS_SK, kind="thanks", order_key=order_key)
        if thanks.to_id:
            item.update(person_pk=thanks.to_id, person_sk=f"thanks#{order_key}")
        if thanks.from_id:
            item["from_pk"] = thanks.from_id
        if not self._add(item):
            raise Conflict(f"thanks {thanks.id!r} already exists")
        return thanks

    def thanks_to(self, person_id: str) -> list[Thanks]:
        return [_record(Thanks, item) for item in self._of_person(person_id, "thanks#", False)
                if item.get("to_id") == person_id]

    def thanks_from(self, person_id: str) -> list[Thanks]:
        if not person_id:
            return []
        rows = self._rows("thanks_from", "from_pk", person_id, forward=False)
        return [_record(Thanks, item) for item in self._found(rows)
                if item.get("from_id") == person_id]

    # Deletion ----------------------------------------------------------------------------
    def forget_person(self, person_id: str) -> dict[str, int]:
        """Deletes what the `by_person` index lists (each item's key names the person, so a
        lagging entry never points to someone else's); counts what was there to delete."""
        counts = {"memberships": 0, "roles": 0, "thanks_received": 0}
        if not person_id:
            return counts
        for name, prefix in (("memberships", "member#"), ("roles", "role#"),
                             ("thanks_received", "thanks#")):
            rows = list(self._rows("by_person", "person_pk", person_id, "person_sk", prefix))
            counts[name] = sum(self._remove(row["pk"], row["sk"]) for row in rows)
        return counts


class DynamoDBSettingStore(_RecordTable):
    """SettingStore on DynamoDB: one item per key (`SETTING#<key>`), written with a condition
    on the version read."""

    def get_setting(self, key: str) -> tuple[object, int]:
        item = self._get(f"SETTING#{key}", SETTING_SK)
        return (json.loads(item["value"]), item["version"]) if item else (None, 0)

    def put_setting(self, key: str, value: object, version: int) -> int:
        # The value is kept as JSON text: any JSON value comes back exactly (a float stays a
        # float, which a DynamoDB number would not promise).
        expr = _Expr()
        if version == 0:
            condition = f"attribute_not_exists({expr.n('pk')})"
        else:
            condition = f"{expr.n('version')} = {expr.v(version)}"
        item = {"pk": f"SETTING#{key}", "sk": SETTING_SK, "kind": "setting", "key": key,
                "value": json.dumps(value, ensure_ascii=False, separators=(",", ":")),
                "version": version + 1}
        try:
            self._commit([_put(self.table, item, condition, expr)])
        except _Cancelled:
            raise self._lost_race(f"SETTING#{key}", SETTING_SK, f"setting {key!r}",
                                  version) from None
        return version + 1


class DynamoDBAuditLog(_RecordTable):
    """AuditLog on DynamoDB: one item per entry (`AUDIT#<id>`), never changed once written.

    Listings read the `audit` index (every entry), `audit_action` (entries of one action
    family: `community.` holds every `community.*` action) or `audit_actor`, newest first; a
    finer action filter is applied by DynamoDB on the action the index carries.
    """

    def append(self, entry: AuditEntry) -> AuditEntry:
        order_key = _order_key(entry.at)
        item = entry.to_dict()
        item.update(pk=f"AUDIT#{entry.id}", sk=AUDIT_SK, kind="audit", order_key=order_key,
                    audit_pk=ALL_ENTRIES)
        if _action_family(entry.action):
            item["action_pk"] = _action_family(entry.action)
        if entry.actor_id:
            item["actor_pk"] = entry.actor_id
        if not self._add(item):
            raise Conflict(f"audit entry {entry.id!r} already exists")
        return entry

    def list(self, *, limit: int, cursor: str | None = None, action: str | None = None,
             actor_id: str | None = None) -> Page:
        expr = _Expr()
        if actor_id:
            attribute, value, index = "actor_pk", actor_id, "audit_actor"
        elif action:
            attribute, value, index = "action_pk", _action_family(action), "audit_action"
        else:
            attribute, value, index = "audit_pk", ALL_ENTRIES, "audit"
        query: dict[str, Any] = {"IndexName": index, "ScanIndexForward": False,
                                 "KeyConditionExpression": f"{expr.n(attribute)} = "
                                                           f"{expr.v(value)}"}
        if action and not (index == "audit_action" and action == value):
            if action.endswith("."):  # a prefix: every action of that kind
                query["FilterExpression"] = f"begins_with({expr.n('action')}, {expr.v(action)})"
            else:
                query["FilterExpression"] = f"{expr.n('action')} = {expr.v(action)}"
        query.update(expr.params())
        rows, next_cursor, total = self._keyset_page(
            "audit", _fingerprint(action or "", actor_id or ""), cursor, limit, query=query,
            partition=(attribute, value), sort_attribute="order_key",
            count=lambda: self._count(**query))
        items = [_record(AuditEntry, item) for item in self._found(rows)]
        return Page(items=items, next_cursor=next_cursor, total=total)


class DynamoDBVoteReader(_RecordTable):
    """VoteReader on the vote items DynamoDBQuestionStore writes to `<prefix>-qa`
    (`A#<answer id>` / `VOTE#<voter id>`), found through its `votes_by_voter` index."""

    def votes_by(self, voter_id: str) -> list[dict]:
        if not voter_id:
            return []
        votes = [item for item in self._found(self._rows("votes_by_voter", "voter_pk", voter_id))
                 if item.get("kind") == "vote" and item.get("voter_id") == voter_id]
        return [{"answer_id": v["answer_id"], "value": v["value"]}
                for v in sorted(votes, key=lambda v: v["answer_id"])]
