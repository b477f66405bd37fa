"""ProfileStore and QuestionStore on DynamoDB (the aws profile), and the design of every
record table.

Three tables, each in single-table design (docs/dynamodb.md has the whole picture):
`<prefix>-profiles` holds profiles, their skill entries and user-name guards; `<prefix>-qa` holds
questions with their tag entries and relays, and answers with their votes; `<prefix>-community`
holds communities, module switches and the audit log (their stores are in
dynamodb_community_store.py). Indexes (GSIs and the skill and tag entries) only *find*
records; the base item, read with ConsistentRead, always decides what is returned, so an index
that lags a moment never shows a deleted profile or a question under a status it no longer has.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import logging
import math
import random
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Sequence

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..domain import (OPEN_RELAY_STATES, RELAY_STATES, Answer, Profile, Question, Relay,
                      normalize_skill)
from ..errors import Conflict, NotFound, field_error
from ..ports import Page

log = logging.getLogger(__name__)

MAX_TRANSACTION_ITEMS = 100  # TransactWriteItems limit
MAX_BATCH_GET = 100
MAX_BATCH_WRITE = 25
MAX_SEARCH_WORDS = 32  # as the SQLite adapter
RETRYABLE_CANCELLATIONS = {"TransactionConflict", "ThrottlingError",
                           "ProvisionedThroughputExceeded", "RequestLimitExceeded"}

# Table design -------------------------------------------------------------------------------


def table_names(prefix: str) -> dict[str, str]:
    """The table of each record family for a table prefix (settings.table_prefix)."""
    return {"profiles": f"{prefix}-profiles", "qa": f"{prefix}-qa",
            "community": f"{prefix}-community"}


# The families the indexer reads from a stream; communities, switches and the audit log hold
# nothing to index, so their table has no stream.
STREAMED = ("profiles", "qa")


def _gsi(name: str, hash_key: str, range_key: str | None = None,
         include: Sequence[str] = ()) -> dict:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    projection = ({"ProjectionType": "INCLUDE", "NonKeyAttributes": list(include)} if include
                  else {"ProjectionType": "KEYS_ONLY"})
    return {"IndexName": name, "KeySchema": keys, "Projection": projection}


# Each index key is a dedicated attribute written only when the item belongs in the index
# (sparse indexes): a domain field is never an index key, so an empty value can never make a
# write fail, and an item never lands in an index meant for another kind of item.
PROFILE_INDEXES = (
    _gsi("directory", "dir_pk", "id"),  # ACTIVE | INACTIVE, by id
    _gsi("department", "dept_pk", "id"),  # ACTIVE#<department> | INACTIVE#<department>, by id
    _gsi("skill", "skill_pk", "id"),  # skill entries: normalized skill -> profile ids
    _gsi("search", "search_pk",  # active profiles only, with their normalized words
         include=("search_name", "search_skills", "search_text")),
    _gsi("email", "email_key"),
    _gsi("external_id", "extid_key"),
    _gsi("watch", "watch_pk", "id"),  # watch entries: tag -> ids of the people who watch it
)
QA_INDEXES = (
    _gsi("feed", "feed_pk", "order_key"),  # every question, newest first
    _gsi("asker", "asker_pk", "order_key", include=("status_pk", "tags")),  # "my questions"
    _gsi("status", "status_pk", "order_key"),
    # a community's questions by their last change: <updated_at>#<id>
    _gsi("community_changes", "changes_pk", "changes_sk"),
    _gsi("tag", "tag_pk", "order_key", include=("tag_status",)),  # tag entries
    _gsi("answers_by_question", "question_pk", "order_key"),  # non-deleted answers
    _gsi("answers_by_author", "author_pk", "order_key"),
    _gsi("expert", "expert_pk", "expert_sk"),  # relays: expert, then open|closed#<state>#<order>
    _gsi("due", "due_pk", "due_sk"),  # open relays with a deadline, by deadline
    _gsi("votes_by_voter", "voter_pk"),  # votes: voter -> (answer, vote) keys, for an export
)
COMMUNITY_INDEXES = (
    _gsi("by_name", "name_pk", "name_sk"),  # communities by name key
    _gsi("members", "members_pk", "order_key"),  # memberships of a community, oldest first
    _gsi("by_person", "person_pk", "person_sk"),  # member#|role#|thanks#<order>: a person's
    _gsi("thanks_from", "from_pk", "order_key"),  # thanks a person gave
    _gsi("asked", "asked_pk", "asked_sk"),  # questions asked in a community: <asked_at>#<id>
    _gsi("audit", "audit_pk", "order_key"),  # every audit entry, newest first
    _gsi("audit_action", "action_pk", "order_key", include=("action",)),  # by action family
    _gsi("audit_actor", "actor_pk", "order_key", include=("action",)),
)
TABLE_INDEXES = {"profiles": PROFILE_INDEXES, "qa": QA_INDEXES, "community": COMMUNITY_INDEXES}


def create_tables(client_or_resource, prefix: str) -> dict[str, str]:
    """Create the Relais tables (on-demand; the STREAMED ones with NEW_AND_OLD_IMAGES streams)
    unless they exist, wait until they are active, and return their names. Accepts a boto3
    client or resource."""
    client = getattr(client_or_resource.meta, "client", client_or_resource)
    names = table_names(prefix)
    for family, indexes in TABLE_INDEXES.items():
        key_names = {"pk", "sk"} | {k["AttributeName"] for i in indexes for k in i["KeySchema"]}
        stream = ({"StreamSpecification": {"StreamEnabled": True,
                                           "StreamViewType": "NEW_AND_OLD_IMAGES"}}
                  if family in STREAMED else {})
        try:
            client.create_table(
                TableName=names[family],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                                      for a in sorted(key_names)],
                GlobalSecondaryIndexes=list(indexes),
                BillingMode="PAY_PER_REQUEST", **stream)
        except ClientError as error:
            if _code(error) != "ResourceInUseException":
                raise
    waiter = client.get_waiter("table_exists")
    for name in names.values():
        waiter.wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return names


# Values: floats travel as Decimal -----------------------------------------------------------
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    """Python value -> what TypeSerializer accepts (DynamoDB has no float type)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"DynamoDB cannot store the number {value!r}")
        return Decimal(repr(value))  # repr is the shortest text that reads back the same float
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    """DynamoDB value -> plain Python: a Decimal with a fraction becomes a float, else an int."""
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, set, frozenset)):
        return [_from_dynamo(v) for v in value]
    return value


def _marshal(attrs: dict) -> dict:
    return {k: _SERIALIZER.serialize(_to_dynamo(v)) for k, v in attrs.items()}


def _unmarshal(item: dict) -> dict:
    return {k: _from_dynamo(_DESERIALIZER.deserialize(v)) for k, v in item.items()}


_NUMBER_FIELDS: dict[type, dict[str, type]] = {}


def _record(cls, item: dict):
    """A domain record from a stored item; numbers get their declared type back (a score of
    2.0 comes back as the float 2.0 even though DynamoDB trims it to 2)."""
    numbers = _NUMBER_FIELDS.get(cls)
    if numbers is None:
        numbers = {f.name: float if f.type == "float" else int
                   for f in dataclasses.fields(cls) if f.type in ("float", "int")}
        _NUMBER_FIELDS[cls] = numbers
    data = dict(item)
    for name, kind in numbers.items():
        if data.get(name) is not None:
            data[name] = kind(data[name])
    return cls.from_dict(data)


def _key(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class _Expr:
    """Placeholders for one expression: every attribute name and value goes through here, so
    reserved words (name, status, ...) never matter."""

    def __init__(self):
        self.names: dict[str, str] = {}
        self.values: dict[str, dict] = {}

    def n(self, attribute: str) -> str:
        for placeholder, name in self.names.items():
            if name == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def v(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _SERIALIZER.serialize(_to_dynamo(value))
        return placeholder

    def params(self) -> dict:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


# Order of insertion: created_at, then a stamp that grows within a process -------------------
_stamp_lock = threading.Lock()
_last_stamp = 0


def _order_key(created_at: str) -> str:
    """Sort key for "newest/oldest first": records created in the same second keep the order
    in which they were written (nanosecond clock, strictly increasing within a process)."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        return f"{created_at}#{_last_stamp:020d}"


# Cursors -------------------------------------------------------------------------------------
def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:12]


def _encode_cursor(data: dict) -> str:
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor():
    return field_error("cursor", "not a cursor returned by this listing")


def _carried_total(state: dict | None, count: Callable[[], int]) -> int:
    """The total a cursor carries from the first page of its walk, else counted now."""
    if state is not None and "t" in state:
        return state["t"]
    return count()


def _decode_cursor(cursor: str | None, listing: str, fingerprint: str) -> dict | None:
    """The state in an opaque cursor; one this listing (with these filters) did not make is
    the same 422 field error as on SQLite."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception:
        raise _bad_cursor() from None
    if not isinstance(data, dict) or data.get("c") != listing or data.get("f") != fingerprint:
        raise _bad_cursor()
    total = data.get("t", 0)
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise _bad_cursor()
    return data


# Words for directory search ------------------------------------------------------------------
_SEARCH_FIELDS = (("search_name", 4), ("search_skills", 3), ("search_text", 1))


def _words(text: str) -> list[str]:
    """Lower-case words without accents, split on anything that is not a letter or digit."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return "".join(c if c.isalnum() else " " for c in folded).split()


def _word_field(text: str) -> str:
    """Words padded with spaces, so that `contains(field, " " + word)` is a word-prefix match."""
    return " " + " ".join(_words(text)) + " "


def _search_score(row: dict, words: Sequence[str]) -> int:
    """Name and skills weigh more than free text (as the SQLite adapter's BM25 weights)."""
    return sum(weight for word in words for attr, weight in _SEARCH_FIELDS
               if " " + word in row.get(attr, ""))


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Cancelled(Exception):
    """A conditional write failed; `reasons[i]` says why for the i-th action."""

    def __init__(self, reasons: list[str]):
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


def _put(table: str, item: dict, condition: str | None = None, expr: _Expr | None = None) -> dict:
    params: dict[str, Any] = {"TableName": table, "Item": _marshal(item)}
    if condition:
        params["ConditionExpression"] = condition
        params.update((expr or _Expr()).params())
    return {"Put": params}


def _free_or_held_by(expr: _Expr, attribute: str, owner: str) -> str:
    """The condition of a write to a uniqueness guard item (a user name, a community name):
    nobody holds it yet, or `owner` (in `attribute`) does."""
    return f"attribute_not_exists({expr.n('pk')}) OR {expr.n(attribute)} = {expr.v(owner)}"


def _delete(table: str, pk: str, sk: str, condition: str | None = None,
            expr: _Expr | None = None) -> dict:
    params: dict[str, Any] = {"TableName": table, "Key": _key(pk, sk)}
    if condition:
        params["ConditionExpression"] = condition
        params.update((expr or _Expr()).params())
    return {"Delete": params}


class _DynamoDBTable:
    """One table and the calls every store makes on it."""

    _SINGLE = {"Put": "put_item", "Delete": "delete_item", "Update": "update_item"}

    def __init__(self, client, table: str):
        self.client = client
        self.table = table

    def _get(self, pk: str, sk: str) -> dict | None:
        response = self.client.get_item(TableName=self.table, Key=_key(pk, sk),
                                        ConsistentRead=True)
        return _unmarshal(response["Item"]) if "Item" in response else None

    @staticmethod
    def _partition_query(pk: str, prefix: str, attributes: Sequence[str] = ()) -> dict:
        """Query parameters for the items of one partition whose sort key starts with
        `prefix`, read consistently (only `attributes` of them when given)."""
        expr = _Expr()
        params: dict[str, Any] = {"ConsistentRead": True, "KeyConditionExpression": (
            f"{expr.n('pk')} = {expr.v(pk)} AND begins_with({expr.n('sk')}, {expr.v(prefix)})")}
        if attributes:
            params["ProjectionExpression"] = ", ".join(expr.n(a) for a in attributes)
        return {**params, **expr.params()}

    def _partition(self, pk: str, prefix: str, attributes: Sequence[str] = ()) -> Iterator[dict]:
        """The items of one partition whose sort key starts with `prefix` (see
        _partition_query)."""
        return self._query(**self._partition_query(pk, prefix, attributes))

    def _batch_get(self, keys: Iterable[tuple[str, str]],
                   attributes: Sequence[str] = ()) -> dict[tuple[str, str], dict]:
        """Items by (pk, sk), read consistently; unprocessed keys are retried with backoff."""
        found: dict[tuple[str, str], dict] = {}
        for chunk in _chunks(list(dict.fromkeys(keys)), MAX_BATCH_GET):
            request: dict[str, Any] = {"Keys": [_key(pk, sk) for pk, sk in chunk],
                                       "ConsistentRead": True}
            if attributes:
                expr = _Expr()
                request["ProjectionExpression"] = ", ".join(
                    expr.n(a) for a in ("pk", "sk", *attributes))
                request["ExpressionAttributeNames"] = expr.names
            pending, attempt = {self.table: request}, 0
            while pending:
                response = self.client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(self.table, []):
                    item = _unmarshal(raw)
                    found[(item["pk"], item["sk"])] = item
                pending = response.get("UnprocessedKeys") or {}
                if pending:
                    attempt += 1
                    time.sleep(random.uniform(0, min(1.0, 0.05 * 2 ** attempt)))
        return found

    def _query(self, **params) -> Iterator[dict]:
        """Every item a query returns, page after page."""
        return self._every_item(self.client.query, params)

    def _scan(self, **params) -> Iterator[dict]:
        """Every item a scan returns, page after page."""
        return self._every_item(self.client.scan, params)

    def _every_item(self, operation: Callable[..., dict], params: dict) -> Iterator[dict]:
        params = {"TableName": self.table, **params}
        while True:
            response = operation(**params)
            for raw in response.get("Items", []):
                yield _unmarshal(raw)
            if "LastEvaluatedKey" not in response:
                return
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _count(self, **params) -> int:
        params = {"TableName": self.table, "Select": "COUNT", **params}
        total = 0
        while True:
            response = self.client.query(**params)
            total += response["Count"]
            if "LastEvaluatedKey" not in response:
                return total
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _commit(self, actions: list[dict]) -> None:
        """Write `actions` (TransactWriteItems entries, the record itself first) atomically.

        One action is a plain conditional write (half the price of a transaction). Index
        entries beyond the 100-action limit of a transaction (e.g. all 50 skills replaced at
        once) are written right after it; readers check every hit against the record, so a
        late or stale entry never shows a wrong result.
        """
        head, spill = actions[:MAX_TRANSACTION_ITEMS], actions[MAX_TRANSACTION_ITEMS:]
        if len(head) == 1:
            (operation, params), = head[0].items()
            try:
                getattr(self.client, self._SINGLE[operation])(**params)
            except ClientError as error:
                if _code(error) == "ConditionalCheckFailedException":
                    raise _Cancelled(["ConditionalCheckFailed"]) from None
                raise
        else:
            self._transact(head)
        if spill:
            self._batch_write(spill)

    def _transact(self, actions: list[dict], attempts: int = 8) -> None:
        for attempt in range(attempts):
            try:
                self.client.transact_write_items(TransactItems=actions)
                return
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") or "None"
                           for r in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    raise _Cancelled(reasons) from None
                if not RETRYABLE_CANCELLATIONS & set(reasons):
                    raise
            # Another transaction held one of the items: back off and try again.
            time.sleep(random.uniform(0, min(1.0, 0.02 * 2 ** attempt)))
        raise Conflict("the record is being changed by someone else; try again")

    def _batch_write(self, actions: list[dict]) -> None:
        requests = []
        for action in actions:
            (operation, params), = action.items()
            if operation == "Put":
                requests.append({"PutRequest": {"Item": params["Item"]}})
            elif operation == "Delete":
                requests.append({"DeleteRequest": {"Key": params["Key"]}})
            else:
                raise ValueError(f"{operation} cannot be written outside a transaction")
        for chunk in _chunks(requests, MAX_BATCH_WRITE):
            pending, attempt = {self.table: list(chunk)}, 0
            while pending:
                pending = self.client.batch_write_item(
                    RequestItems=pending).get("UnprocessedItems") or {}
                if pending:
                    attempt += 1
                    time.sleep(random.uniform(0, min(1.0, 0.05 * 2 ** attempt)))

    def _keyset_page(self, listing: str, fingerprint: str, cursor: str | None, limit: int, *,
                     query: dict, partition: tuple[str, str], sort_attribute: str,
                     count: Callable[[], int]) -> tuple[list[dict], str | None, int]:
        """One page of index rows. The cursor holds the index key of the last row shown (the
        next query's ExclusiveStartKey, checked to be in the same partition) and the total,
        counted for the first page only, so every page of one walk reports the same total."""
        limit = max(1, limit)
        state = _decode_cursor(cursor, listing, fingerprint)
        attribute, value = partition
        key_names = {"pk", "sk", attribute, sort_attribute}
        params = dict(query)
        if state is not None:
            start = state.get("k")
            if (not isinstance(start, dict) or set(start) != key_names
                    or not all(isinstance(v, str) for v in start.values())
                    or start[attribute] != value):
                raise _bad_cursor()
            params["ExclusiveStartKey"] = {k: {"S": v} for k, v in start.items()}
        total = _carried_total(state, count)
        # Limit counts the rows read, not those a filter keeps: with a filter, a rare match
        # would cost one request per limit + 1 rows read, so DynamoDB pages by size instead.
        if "FilterExpression" not in params:
            params["Limit"] = limit + 1
        rows: list[dict] = []
        for row in self._query(**params):
            rows.append(row)
            if len(rows) > limit:
                break
        page_rows = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = page_rows[-1]
            next_cursor = _encode_cursor({"c": listing, "f": fingerprint,
                                          "k": {k: last[k] for k in key_names}, "t": total})
        return page_rows, next_cursor, total

    def _version_conflict(self, what: str, expected: int, current: int) -> Conflict:
        return Conflict(f"{what} changed since version {expected}",
                        [{"field": "version", "message": f"current is {current}"}])

    def _read_for_update(self, pk: str, sk: str, what: str, version: int) -> dict:
        """The stored item an update from `version` replaces: NotFound if there is none, a
        version conflict if it has moved on since."""
        item = self._get(pk, sk)
        if item is None:
            raise NotFound(f"{what} not found")
        if item["version"] != version:
            raise self._version_conflict(what, version, item["version"])
        return item

    def _lost_race(self, pk: str, sk: str, what: str, version: int) -> Conflict:
        """The conflict to raise when a write conditioned on `version` was refused: the item
        changed (or went) between the read and the write."""
        current = self._get(pk, sk) or {}
        return self._version_conflict(what, version, current.get("version", 0))


# Profiles ------------------------------------------------------------------------------------
PROFILE_SK = "PROFILE"
GUARD_SK = "USERNAME"
SEARCH_ROW_FIELDS = ("id", "active", "deleted", "skills", *(f for f, _ in _SEARCH_FIELDS))


def _profile_pk(profile_id: str) -> str:
    return f"PROFILE#{profile_id}"


def _listed(record: Profile | dict) -> bool:
    """Shown in the directory and in search: active and not deleted."""
    if isinstance(record, dict):
        return bool(record.get("active")) and not record.get("deleted")
    return record.active and not record.deleted


def _skill_keys(profile: Profile) -> set[str]:
    """Skill entries exist only while the profile is listed."""
    if not _listed(profile):
        return set()
    return {k for k in (normalize_skill(s) for s in profile.skills) if k}


def _watched(profile: Profile) -> set[str]:
    """Watch entries exist only while the profile is listed."""
    return set(profile.watched_tags) if _listed(profile) else set()


def _guard_pk(profile: Profile) -> str | None:
    """The user-name guard a profile holds: only while it is not deleted."""
    if profile.user_name and not profile.deleted:
        return f"USERNAME#{profile.user_name.lower()}"
    return None


class DynamoDBProfileStore(_DynamoDBTable):
    """ProfileStore on DynamoDB.

    Directory search scans the `search` index (active profiles and their normalized words
    only) and ranks in process: correct, but its cost grows with the directory. Past a few
    thousand people, directory free text belongs in OpenSearch (docs/dynamodb.md).
    """

    def __init__(self, client, table: str, *, search_scan_limit: int = 20_000):
        super().__init__(client, table)
        self.search_scan_limit = search_scan_limit

    # items --------------------------------------------------------------------------------
    def _item(self, profile: Profile) -> dict:
        item = profile.to_dict()
        item.update(pk=_profile_pk(profile.id), sk=PROFILE_SK, kind="profile")
        if not profile.deleted:
            state = "ACTIVE" if profile.active else "INACTIVE"
            item["dir_pk"] = state
            if profile.department:
                item["dept_pk"] = f"{state}#{profile.department}"
            if profile.email:
                item["email_key"] = profile.email.lower()
            if profile.external_id:
                item["extid_key"] = profile.external_id.lower()
        if _listed(profile):
            item["search_pk"] = profile.id
            item["search_name"] = _word_field(profile.name)
            item["search_skills"] = _word_field(" ; ".join(profile.skills))
            item["search_text"] = _word_field(
                " ".join([profile.bio, profile.department, profile.site]))
        return item

    def _skill_put(self, profile_id: str, key: str) -> dict:
        return _put(self.table, {"pk": _profile_pk(profile_id), "sk": f"SKILL#{key}",
                                 "kind": "profile_skill", "skill_pk": key, "id": profile_id})

    def _skill_delete(self, profile_id: str, key: str) -> dict:
        return _delete(self.table, _profile_pk(profile_id), f"SKILL#{key}")

    def _watch_put(self, profile_id: str, tag: str) -> dict:
        return _put(self.table, {"pk": _profile_pk(profile_id), "sk": f"WATCH#{tag}",
                                 "kind": "profile_watch", "watch_pk": tag, "id": profile_id})

    def _watch_delete(self, profile_id: str, tag: str) -> dict:
        return _delete(self.table, _profile_pk(profile_id), f"WATCH#{tag}")

    def _guard_put(self, profile: Profile) -> dict:
        expr = _Expr()
        return _put(self.table, {"pk": _guard_pk(profile), "sk": GUARD_SK, "kind": "username",
                                 "profile_id": profile.id, "user_name": profile.user_name},
                    _free_or_held_by(expr, "profile_id", profile.id), expr)

    def _guard_delete(self, pk: str, profile_id: str) -> dict:
        expr = _Expr()
        return _delete(self.table, pk, GUARD_SK, _free_or_held_by(expr, "profile_id", profile_id),
                       expr)

    @staticmethod
    def _user_name_taken(profile: Profile) -> Conflict:
        return Conflict(f"userName {profile.user_name!r} is already taken",
                        [{"field": "user_name", "message": "already taken"}])

    def _profiles(self, ids: Sequence[str]) -> list[Profile]:
        """The profiles of `ids` in that order (missing ones left out)."""
        items = self._batch_get((_profile_pk(i), PROFILE_SK) for i in ids)
        return [_record(Profile, items[key]) for key in
                ((_profile_pk(i), PROFILE_SK) for i in ids) if key in items]

    # reads --------------------------------------------------------------------------------
    def get(self, profile_id: str) -> Profile | None:
        item = self._get(_profile_pk(profile_id), PROFILE_SK)
        return _record(Profile, item) if item else None

    def get_many(self, profile_ids: Iterable[str]) -> dict[str, Profile]:
        return {p.id: p for p in self._profiles(list(dict.fromkeys(profile_ids)))}

    def find(self, *, user_name=None, email=None, external_id=None) -> Profile | None:
        if user_name:
            guard = self._get(f"USERNAME#{user_name.lower()}", GUARD_SK)
            profile = self.get(guard["profile_id"]) if guard else None
            if profile and not profile.deleted and profile.user_name.lower() == user_name.lower():
                return profile
        for index, attribute, value in (("email", "email_key", email),
                                        ("external_id", "extid_key", external_id)):
            if not value:
                continue
            expr = _Expr()
            rows = self._query(IndexName=index, KeyConditionExpression=(
                f"{expr.n(attribute)} = {expr.v(value.lower())}"), **expr.params())
            field = "email" if index == "email" else "external_id"
            matches = [p for p in self._profiles(sorted(r["pk"][len("PROFILE#"):] for r in rows))
                       if not p.deleted and getattr(p, field).lower() == value.lower()]
            if matches:
                return matches[0]
        return None

    def all_ids(self) -> list[str]:
        expr = _Expr()
        return sorted(item["id"] for item in self._scan(
            ProjectionExpression=expr.n("id"),
            FilterExpression=f"{expr.n('kind')} = {expr.v('profile')}", **expr.params()))

    # writes -------------------------------------------------------------------------------
    def add(self, profile: Profile) -> Profile:
        stored = profile.replace(version=1)
        expr = _Expr()
        actions = [_put(self.table, self._item(stored),
                        f"attribute_not_exists({expr.n('pk')})", expr)]
        if _guard_pk(stored):
            actions.append(self._guard_put(stored))
        actions += [self._skill_put(stored.id, k) for k in sorted(_skill_keys(stored))]
        actions += [self._watch_put(stored.id, t) for t in sorted(_watched(stored))]
        try:
            self._commit(actions)
        except _Cancelled as cancelled:
            if cancelled.failed(0):
                raise Conflict(f"profile {profile.id!r} already exists",
                               [{"field": "id", "message": "already exists"}]) from None
            raise self._user_name_taken(stored) from None
        return stored

    def update(self, profile: Profile) -> Profile:
        old = _record(Profile, self._read_for_update(_profile_pk(profile.id), PROFILE_SK,
                                                     f"profile {profile.id!r}", profile.version))
        stored = profile.replace(version=profile.version + 1)
        expr = _Expr()
        actions = [_put(self.table, self._item(stored),
                        f"{expr.n('version')} = {expr.v(profile.version)}", expr)]
        guard_index = None
        old_guard, new_guard = _guard_pk(old), _guard_pk(stored)
        if old_guard != new_guard:
            if old_guard:
                actions.append(self._guard_delete(old_guard, old.id))
            if new_guard:
                guard_index = len(actions)
                actions.append(self._guard_put(stored))
        old_skills, new_skills = _skill_keys(old), _skill_keys(stored)
        actions += [self._skill_delete(stored.id, k) for k in sorted(old_skills - new_skills)]
        actions += [self._skill_put(stored.id, k) for k in sorted(new_skills - old_skills)]
        old_watched, new_watched = _watched(old), _watched(stored)
        actions += [self._watch_delete(stored.id, t) for t in sorted(old_watched - new_watched)]
        actions += [self._watch_put(stored.id, t) for t in sorted(new_watched - old_watched)]
        try:
            self._commit(actions)
        except _Cancelled as cancelled:
            if guard_index is not None and cancelled.failed(guard_index):
                raise self._user_name_taken(stored) from None
            raise self._lost_race(_profile_pk(profile.id), PROFILE_SK, f"profile {profile.id!r}",
                                  profile.version) from None
        return stored

    # listing ------------------------------------------------------------------------------
    def list(self, *, limit, cursor=None, include_inactive=False, department=None) -> Page:
        limit = max(1, limit)
        fingerprint = _fingerprint(include_inactive, department or "")
        state = _decode_cursor(cursor, "profiles", fingerprint)
        if state is not None and not isinstance(state.get("a"), str):
            raise _bad_cursor()
        states = ("ACTIVE", "INACTIVE") if include_inactive else ("ACTIVE",)
        if department:
            index, attribute = "department", "dept_pk"
            partitions = [f"{s}#{department}" for s in states]
        else:
            index, attribute, partitions = "directory", "dir_pk", list(states)
        after = state["a"] if state else None

        def condition(partition: str) -> dict:
            expr = _Expr()
            text = f"{expr.n(attribute)} = {expr.v(partition)}"
            if after is not None:
                text += f" AND {expr.n('id')} > {expr.v(after)}"
            return {"IndexName": index, "KeyConditionExpression": text, **expr.params()}

        if state:
            total = state["t"]
        else:
            total = sum(self._count(**condition(p)) for p in partitions)
        # Each partition is sorted by id: the first limit + 1 of each, merged, are the page.
        ids: list[str] = []
        for partition in partitions:
            for n, row in enumerate(self._query(Limit=limit + 1, **condition(partition)), 1):
                ids.append(row["id"])
                if n > limit:
                    break
        ids = sorted(set(ids))[:limit + 1]
        page_ids = ids[:limit]
        items = [p for p in self._profiles(page_ids)
                 if not p.deleted and (include_inactive or p.active)
                 and (not department or p.department == department)]
        next_cursor = None
        if len(ids) > limit:
            next_cursor = _encode_cursor({"c": "profiles", "f": fingerprint,
                                          "a": page_ids[-1], "t": total})
        return Page(items=items, next_cursor=next_cursor, total=total)

    def search(self, *, text="", skill="", limit=20, cursor=None) -> Page:
        limit = max(1, limit)
        words = list(dict.fromkeys(_words(text)))[:MAX_SEARCH_WORDS]
        skill_key = normalize_skill(skill) if skill else ""
        fingerprint = _fingerprint(words, skill_key)
        state = _decode_cursor(cursor, "search", fingerprint)
        offset = state.get("o") if state else 0
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise _bad_cursor()
        if skill and not skill_key:
            return Page(items=[], next_cursor=None, total=0)  # a skill of spaces names none
        if skill_key:
            rows = self._skill_rows(skill_key)
        else:
            rows = self._scan_search_index(words)
        if words:
            scored = [(s, r["id"]) for r in rows if (s := _search_score(r, words)) > 0]
            ranked = [pid for _, pid in sorted(scored, key=lambda t: (-t[0], t[1]))]
        else:
            ranked = sorted(r["id"] for r in rows)
        page_ids = ranked[offset:offset + limit]
        items = [p for p in self._profiles(page_ids) if _listed(p)]
        next_cursor = None
        if offset + limit < len(ranked):
            next_cursor = _encode_cursor({"c": "search", "f": fingerprint, "o": offset + limit})
        return Page(items=items, next_cursor=next_cursor, total=len(ranked))

    def watchers(self, tags: Iterable[str]) -> set[str]:
        def ids(tag: str) -> list[str]:
            expr = _Expr()
            return [row["id"] for row in self._query(
                IndexName="watch", KeyConditionExpression=f"{expr.n('watch_pk')} = {expr.v(tag)}",
                **expr.params())]
        found = _side_by_side(ids, [t for t in dict.fromkeys(tags) if t])
        wanted = set(found)
        items = self._batch_get(((_profile_pk(i), PROFILE_SK) for hits in found.values()
                                 for i in hits), ("id", "active", "deleted", "watched_tags"))
        return {item["id"] for item in items.values()  # the record decides, not the index
                if _listed(item) and wanted & set(item.get("watched_tags", []))}

    def _skill_rows(self, skill_key: str) -> list[dict]:
        """Listed people who declared this skill, with their search words."""
        expr = _Expr()
        key = f"{expr.n('skill_pk')} = {expr.v(skill_key)}"
        hits = self._query(IndexName="skill", KeyConditionExpression=key, **expr.params())
        ids = [row["id"] for row in hits]
        items = self._batch_get(((_profile_pk(i), PROFILE_SK) for i in ids), SEARCH_ROW_FIELDS)
        return [row for row in items.values() if _listed(row)
                and skill_key in {normalize_skill(s) for s in row.get("skills", [])}]

    def _scan_search_index(self, words: Sequence[str]) -> list[dict]:
        """Rows of the `search` index (active profiles only) holding any of the words as a
        word prefix; DynamoDB filters, so only the matches travel. Bounded by
        `search_scan_limit` rows read per request."""
        params: dict[str, Any] = {"TableName": self.table, "IndexName": "search"}
        if words:
            expr = _Expr()
            clauses = []
            for word in words:
                value = expr.v(" " + word)
                clauses += [f"contains({expr.n(attr)}, {value})" for attr, _ in _SEARCH_FIELDS]
            params.update(FilterExpression=" OR ".join(clauses), **expr.params())
        rows, scanned = [], 0
        while True:
            response = self.client.scan(**params)
            rows += [_unmarshal(raw) for raw in response.get("Items", [])]
            scanned += response.get("ScannedCount", 0)
            if "LastEvaluatedKey" not in response:
                break
            if scanned >= self.search_scan_limit:
                log.warning("directory search stopped after %d profiles (search_scan_limit);"
                            " results are partial: move directory search to OpenSearch", scanned)
                break
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        for row in rows:
            row["id"] = row["search_pk"]
        return rows


# Questions, answers, votes, relays ----------------------------------------------------------
QUESTION_SK = "Q"
ANSWER_SK = "A"


def _side_by_side(read: Callable[[str], Any], keys: Sequence[str]) -> dict[str, Any]:
    """`read` of each key, run side by side (a few at once: boto3 clients are thread-safe),
    where one query per key is the only way DynamoDB has to read them."""
    if not keys:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(keys))) as pool:
        return dict(zip(keys, pool.map(read, keys)))


def _merged_newest(listing: str, fingerprint: str, cursor: str | None, limit: int,
                   keys: Sequence[str],
                   newest: Callable[[str, str | None], list[tuple[str, dict]]],
                   count: Callable[[], int]) -> tuple[list[dict], str | None, int]:
    """One page of the union of several newest-first index lists, one per key: `newest(key,
    before)` gives a list's (order key, row) pairs below `before`, at most limit + 1. The
    lists are read side by side and merged by order key (the newest `limit` of the union are
    among each list's newest `limit`); a row in two lists comes once. The cursor holds the
    order key of the last row shown and the total, counted for the first page only (as in
    _keyset_page)."""
    state = _decode_cursor(cursor, listing, fingerprint)
    before = state.get("before") if state else None
    if state is not None and not isinstance(before, str):
        raise _bad_cursor()
    total = _carried_total(state, count)
    hits: dict[str, tuple[str, dict]] = {}
    for found in _side_by_side(lambda key: newest(key, before), keys).values():
        for order_key, row in found:
            hits.setdefault(row["pk"], (order_key, row))
    ordered = sorted(hits.values(), key=lambda hit: hit[0], reverse=True)
    page = ordered[:limit]
    next_cursor = (_encode_cursor({"c": listing, "f": fingerprint, "before": page[-1][0],
                                   "t": total})
                   if len(ordered) > limit else None)
    return [row for _, row in page], next_cursor, total


def _question_pk(question_id: str) -> str:
    return f"Q#{question_id}"


def _answer_pk(answer_id: str) -> str:
    return f"A#{answer_id}"


def _relay_group(state: str) -> str:
    """Open relays share a sort-key prefix, so one query counts a person's open relays."""
    return "open" if state in OPEN_RELAY_STATES else "closed"


def _relay_prefix(state: str) -> str:
    """Where a person's relays in `state` begin in the `expert` index."""
    return f"{_relay_group(state)}#{state}#"


class DynamoDBQuestionStore(_DynamoDBTable):
    """QuestionStore on DynamoDB: questions, their tag entries and relays share a partition
    (`Q#<id>`); an answer and its votes share another (`A#<id>`)."""

    # items --------------------------------------------------------------------------------
    def _question_item(self, question: Question, order_key: str) -> dict:
        item = question.to_dict()
        item.update(pk=_question_pk(question.id), sk=QUESTION_SK, kind="question",
                    order_key=order_key, feed_pk="Q")
        if question.asker_id:
            item["asker_pk"] = question.asker_id
        if question.status:
            item["status_pk"] = question.status
        if question.community_id:
            item.update(changes_pk=question.community_id,
                        changes_sk=f"{question.updated_at}#{question.id}")
        return item

    def _tag_put(self, question: Question, tag: str, order_key: str) -> dict:
        return _put(self.table, {"pk": _question_pk(question.id), "sk": f"TAG#{tag}",
                                 "kind": "question_tag", "question_id": question.id, "tag": tag,
                                 "tag_pk": tag, "order_key": order_key,
                                 "tag_status": question.status})

    def _answer_item(self, answer: Answer, order_key: str) -> dict:
        item = answer.to_dict()
        item.update(pk=_answer_pk(answer.id), sk=ANSWER_SK, kind="answer", order_key=order_key)
        if not answer.deleted:  # deleted answers drop out of both listings
            if answer.question_id:
                item["question_pk"] = answer.question_id
            if answer.author_id:
                item["author_pk"] = answer.author_id
        return item

    def _relay_item(self, relay: Relay, order_key: str) -> dict:
        item = relay.to_dict()
        item.update(pk=_question_pk(relay.question_id), sk=f"RELAY#{relay.expert_id}",
                    kind="relay", order_key=order_key)
        if relay.expert_id:
            item.update(expert_pk=relay.expert_id,
                        expert_sk=_relay_prefix(relay.state) + order_key)
        if relay.state in OPEN_RELAY_STATES and relay.due_at:
            item.update(due_pk="DUE", due_sk=relay.due_at)
        return item

    # questions ----------------------------------------------------------------------------
    def add_question(self, question: Question) -> Question:
        stored = question.replace(version=1)
        order_key = _order_key(stored.created_at)
        expr = _Expr()
        actions = [_put(self.table, self._question_item(stored, order_key),
                        f"attribute_not_exists({expr.n('pk')})", expr)]
        actions += [self._tag_put(stored, t, order_key) for t in dict.fromkeys(stored.tags) if t]
        try:
            self._commit(actions)
        except _Cancelled:
            raise Conflict(f"question {question.id!r} already exists") from None
        return stored

    def get_question(self, question_id: str) -> Question | None:
        item = self._get(_question_pk(question_id), QUESTION_SK)
        return _record(Question, item) if item else None

    def get_questions(self, question_ids: Iterable[str]) -> dict[str, Question]:
        items = self._batch_get((_question_pk(q), QUESTION_SK) for q in question_ids if q)
        return {question.id: question
                for question in (_record(Question, item) for item in items.values())}

    def update_question(self, question: Question) -> Question:
        old_item = self._read_for_update(_question_pk(question.id), QUESTION_SK,
                                         f"question {question.id!r}", question.version)
        stored = question.replace(version=question.version + 1)
        order_key = old_item["order_key"]
        expr = _Expr()
        actions = [_put(self.table, self._question_item(stored, order_key),
                        f"{expr.n('version')} = {expr.v(question.version)}", expr)]
        old_tags = {t for t in old_item.get("tags", []) if t}
        new_tags = {t for t in stored.tags if t}
        # Tag entries carry the status (to filter on it), so a new status rewrites them all.
        rewrite = new_tags if stored.status != old_item.get("status") else new_tags - old_tags
        actions += [_delete(self.table, _question_pk(stored.id), f"TAG#{t}")
                    for t in sorted(old_tags - new_tags)]
        actions += [self._tag_put(stored, t, order_key) for t in sorted(rewrite)]
        try:
            self._commit(actions)
        except _Cancelled:
            raise self._lost_race(_question_pk(question.id), QUESTION_SK,
                                  f"question {question.id!r}", question.version) from None
        return stored

    def list_questions(self, *, limit, cursor=None, asker_id=None, status=None, tag=None) -> Page:
        fingerprint = _fingerprint(asker_id or "", status or "", tag or "")
        expr = _Expr()
        filters = []
        # The most selective key first; the other filters are applied by DynamoDB.
        if asker_id:
            index, attribute, value = "asker", "asker_pk", asker_id
            if status:
                filters.append(f"{expr.n('status_pk')} = {expr.v(status)}")
            if tag:
                filters.append(f"contains({expr.n('tags')}, {expr.v(tag)})")
        elif tag:
            index, attribute, value = "tag", "tag_pk", tag
            if status:
                filters.append(f"{expr.n('tag_status')} = {expr.v(status)}")
        elif status:
            index, attribute, value = "status", "status_pk", status
        else:
            index, attribute, value = "feed", "feed_pk", "Q"
        params: dict[str, Any] = {
            "IndexName": index, "ScanIndexForward": False,
            "KeyConditionExpression": f"{expr.n(attribute)} = {expr.v(value)}"}
        if filters:
            params["FilterExpression"] = " AND ".join(filters)
        params.update(expr.params())
        page_rows, next_cursor, total = self._keyset_page(
            "questions", fingerprint, cursor, limit, query=params, partition=(attribute, value),
            sort_attribute="order_key", count=lambda: self._count(**params))
        items = self._batch_get((r["pk"], QUESTION_SK) for r in page_rows)
        questions = [_record(Question, items[(r["pk"], QUESTION_SK)]) for r in page_rows
                     if (r["pk"], QUESTION_SK) in items]
        questions = [q for q in questions if (not asker_id or q.asker_id == asker_id)
                     and (not status or q.status == status) and (not tag or tag in q.tags)]
        return Page(items=questions, next_cursor=next_cursor, total=total)

    def questions_on_tags(self, tags, *, limit, cursor=None, status=None) -> Page:
        """Each tag's newest questions (the `tag` index) merged (_merged_newest). The total
        reads every entry of the tags once, keys only, on the first page: a question with two
        of the tags counts once, which no COUNT query can tell."""
        tags = sorted({t for t in tags if t})
        limit = max(1, limit)

        def entries(tag: str, before: str | None = None, *, page_size: int | None = None,
                    keys_only: bool = False) -> Iterator[dict]:
            expr = _Expr()
            key = f"{expr.n('tag_pk')} = {expr.v(tag)}"
            if before:
                key += f" AND {expr.n('order_key')} < {expr.v(before)}"
            params: dict[str, Any] = {"IndexName": "tag", "ScanIndexForward": False,
                                      "KeyConditionExpression": key}
            if status:  # no Limit with a filter: see _keyset_page
                params["FilterExpression"] = f"{expr.n('tag_status')} = {expr.v(status)}"
            elif page_size:
                params["Limit"] = page_size
            if keys_only:
                params["ProjectionExpression"] = expr.n("pk")
            return self._query(**params, **expr.params())

        def newest(tag: str, before: str | None) -> list[tuple[str, dict]]:
            return [(row["order_key"], row) for row in
                    itertools.islice(entries(tag, before, page_size=limit + 1), limit + 1)]

        def count() -> int:
            found = _side_by_side(lambda tag: {row["pk"] for row in entries(
                tag, keys_only=True)}, tags)
            return len(set().union(*found.values()))
        page_rows, next_cursor, total = _merged_newest(
            "questions_on_tags", _fingerprint(status or "", *tags), cursor, limit, tags, newest,
            count)
        items = self._batch_get((r["pk"], QUESTION_SK) for r in page_rows)
        questions = [_record(Question, items[(r["pk"], QUESTION_SK)]) for r in page_rows
                     if (r["pk"], QUESTION_SK) in items]
        questions = [q for q in questions  # the record decides, not the index
                     if (not status or q.status == status) and set(q.tags) & set(tags)]
        return Page(items=questions, next_cursor=next_cursor, total=total)

    def community_questions_changed_since(self, community_id, since) -> list[Question]:
        """From the `community_changes` index, then one batch read; the record decides."""
        if not community_id:
            return []
        expr = _Expr()
        key = f"{expr.n('changes_pk')} = {expr.v(community_id)}"
        if since:  # DynamoDB takes no empty key value
            key += f" AND {expr.n('changes_sk')} >= {expr.v(since)}"
        rows = list(self._query(IndexName="community_changes", KeyConditionExpression=key,
                                **expr.params()))
        items = self._batch_get((r["pk"], QUESTION_SK) for r in rows)
        questions = [_record(Question, item) for item in items.values()]
        return sorted((q for q in questions
                       if q.community_id == community_id and q.updated_at >= since),
                      key=lambda q: (q.updated_at, q.id))

    # answers ------------------------------------------------------------------------------
    def add_answer(self, answer: Answer) -> Answer:
        stored = answer.replace(version=1)
        expr = _Expr()
        try:
            self._commit([_put(self.table, self._answer_item(stored, _order_key(stored.created_at)),
                               f"attribute_not_exists({expr.n('pk')})", expr)])
        except _Cancelled:
            raise Conflict(f"answer {answer.id!r} already exists") from None
        return stored

    def get_answer(self, answer_id: str) -> Answer | None:
        item = self._get(_answer_pk(answer_id), ANSWER_SK)
        return _record(Answer, item) if item else None

    def update_answer(self, answer: Answer) -> Answer:
        old_item = self._read_for_update(_answer_pk(answer.id), ANSWER_SK,
                                         f"answer {answer.id!r}", answer.version)
        stored = answer.replace(version=answer.version + 1)
        expr = _Expr()
        try:
            self._commit([_put(self.table, self._answer_item(stored, old_item["order_key"]),
                               f"{expr.n('version')} = {expr.v(answer.version)}", expr)])
        except _Cancelled:
            raise self._lost_race(_answer_pk(answer.id), ANSWER_SK, f"answer {answer.id!r}",
                                  answer.version) from None
        return stored

    def _answers(self, index: str, attribute: str, values: Sequence[str]) -> dict[str, list[Answer]]:
        """The answers each of `values` finds in `index` (queried side by side), read from
        their base items in one batch: deleted ones and stale index entries are left out."""
        def rows(value: str) -> list[dict]:
            expr = _Expr()
            return list(self._query(IndexName=index, KeyConditionExpression=(
                f"{expr.n(attribute)} = {expr.v(value)}"), **expr.params()))
        rows_of = _side_by_side(rows, [v for v in values if v])
        items = self._batch_get((r["pk"], ANSWER_SK) for found in rows_of.values() for r in found)
        field = "question_id" if attribute == "question_pk" else "author_id"
        answers_of = {}
        for value in values:
            answers = [_record(Answer, items[(r["pk"], ANSWER_SK)]) for r in rows_of.get(value, ())
                       if (r["pk"], ANSWER_SK) in items]
            answers_of[value] = [a for a in answers
                                 if not a.deleted and getattr(a, field) == value]
        return answers_of

    def answers_for(self, question_id: str) -> list[Answer]:
        return self._answers("answers_by_question", "question_pk", [question_id])[question_id]

    def answers_for_questions(self, question_ids: Iterable[str]) -> dict[str, list[Answer]]:
        return self._answers("answers_by_question", "question_pk",
                             list(dict.fromkeys(question_ids)))

    def answers_by(self, author_id: str) -> list[Answer]:
        return self._answers("answers_by_author", "author_pk", [author_id])[author_id]

    def index_old_votes(self) -> int:
        """Give every vote item written before the `votes_by_voter` index its `voter_pk`, so
        that its voter's data export finds it; returns how many were set. Idempotent: a vote
        already indexed, withdrawn or changed meanwhile is left to its own write."""
        expr = _Expr()
        updated = 0
        for item in self._scan(
                ProjectionExpression=f"{expr.n('pk')}, {expr.n('sk')}, {expr.n('voter_id')}",
                FilterExpression=(f"{expr.n('kind')} = {expr.v('vote')} AND "
                                  f"attribute_not_exists({expr.n('voter_pk')})"),
                **expr.params()):
            if not item.get("voter_id"):
                continue
            update = _Expr()
            updated += self._update_if(
                item, f"SET {update.n('voter_pk')} = {update.n('voter_id')}",
                f"attribute_exists({update.n('pk')}) AND "
                f"attribute_not_exists({update.n('voter_pk')})", update)
        return updated

    def index_old_community_questions(self) -> int:
        """Give every community question written before the `community_changes` index its
        entry, so that recognition reads it; returns how many were set. Idempotent: a
        question changed meanwhile (another version) got its entry from that write."""
        expr = _Expr()
        updated = 0
        for item in self._scan(
                FilterExpression=(f"{expr.n('kind')} = {expr.v('question')} AND "
                                  f"attribute_exists({expr.n('community_id')}) AND "
                                  f"attribute_not_exists({expr.n('changes_pk')})"),
                **expr.params()):
            question = _record(Question, item)
            if not question.community_id:
                continue
            update = _Expr()
            entry = self._question_item(question, item["order_key"])
            updated += self._update_if(
                item, f"SET {update.n('changes_pk')} = {update.v(entry['changes_pk'])}, "
                      f"{update.n('changes_sk')} = {update.v(entry['changes_sk'])}",
                f"{update.n('version')} = {update.v(question.version)}", update)
        return updated

    def _update_if(self, item: dict, update: str, condition: str, expr: _Expr) -> bool:
        """One conditional UpdateItem on `item`'s key; False when the condition did not hold
        (another write came first and decides)."""
        try:
            self.client.update_item(TableName=self.table, Key=_key(item["pk"], item["sk"]),
                                    UpdateExpression=update, ConditionExpression=condition,
                                    **expr.params())
            return True
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            return False

    def set_vote(self, answer_id: str, voter_id: str, value: int, attempts: int = 12) -> int:
        """The vote and the answer's score change in one transaction; the vote's condition
        (its value as read) makes a concurrent change by the same voter retry, not double."""
        pk, vote_sk = _answer_pk(answer_id), f"VOTE#{voter_id}"
        for attempt in range(attempts):
            vote = self._get(pk, vote_sk)
            old = vote["value"] if vote else 0
            if value == old:
                answer = self.get_answer(answer_id)
                if answer is None:
                    raise NotFound(f"answer {answer_id!r} not found")
                return answer.score
            expr = _Expr()
            if vote is None:
                condition = f"attribute_not_exists({expr.n('pk')})"
            else:
                condition = f"{expr.n('value')} = {expr.v(old)}"
            if value == 0:
                vote_action = _delete(self.table, pk, vote_sk, condition, expr)
            else:
                item = {"pk": pk, "sk": vote_sk, "kind": "vote", "answer_id": answer_id,
                        "voter_id": voter_id, "value": value}
                if voter_id:
                    item["voter_pk"] = voter_id
                vote_action = _put(self.table, item, condition, expr)
            expr = _Expr()
            score_action = {"Update": {
                "TableName": self.table, "Key": _key(pk, ANSWER_SK),
                "ConditionExpression": f"attribute_exists({expr.n('pk')})",
                "UpdateExpression": (f"SET {expr.n('score')} = {expr.n('score')} + "
                                     f"{expr.v(value - old)}, {expr.n('version')} = "
                                     f"{expr.n('version')} + {expr.v(1)}"),
                **expr.params()}}
            try:
                self._transact([score_action, vote_action])
            except _Cancelled as cancelled:
                if cancelled.failed(0):
                    raise NotFound(f"answer {answer_id!r} not found") from None
                # The same voter voted meanwhile: read again.
                time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** attempt)))
                continue
            return self.get_answer(answer_id).score
        raise Conflict(f"the vote on answer {answer_id!r} is changing; try again")

    # relays -------------------------------------------------------------------------------
    def put_relay(self, relay: Relay) -> Relay:
        stored = relay.replace(version=relay.version + 1)
        pk, sk = _question_pk(relay.question_id), f"RELAY#{relay.expert_id}"
        what = f"relay of {relay.question_id!r} to {relay.expert_id!r}"
        expr = _Expr()
        if relay.version == 0:
            action = _put(self.table, self._relay_item(stored, _order_key(stored.created_at)),
                          f"attribute_not_exists({expr.n('pk')})", expr)
        else:
            old = self._get(pk, sk)
            if old is None or old["version"] != relay.version:
                raise self._version_conflict(what, relay.version, old["version"] if old else 0)
            action = _put(self.table, self._relay_item(stored, old["order_key"]),
                          f"{expr.n('version')} = {expr.v(relay.version)}", expr)
        try:
            self._commit([action])
        except _Cancelled:
            raise self._lost_race(pk, sk, what, relay.version) from None
        return stored

    def get_relay(self, question_id: str, expert_id: str) -> Relay | None:
        item = self._get(_question_pk(question_id), f"RELAY#{expert_id}")
        return _record(Relay, item) if item else None

    def relays_for_question(self, question_id: str) -> list[Relay]:
        items = self._partition(_question_pk(question_id), "RELAY#")
        return [_record(Relay, i) for i in sorted(items, key=lambda i: i["order_key"])]

    def relays_for_questions(self, question_ids: Iterable[str]) -> dict[str, list[Relay]]:
        ids = list(dict.fromkeys(question_ids))
        found = _side_by_side(self.relays_for_question, [i for i in ids if i])
        return {i: found.get(i, []) for i in ids}

    def _relays(self, rows: Iterable[dict]) -> list[tuple[str, Relay]]:
        items = self._batch_get((r["pk"], r["sk"]) for r in rows)
        return [(i["order_key"], _record(Relay, i)) for i in items.values()]

    def _expert_condition(self, expert_id: str, prefix: str = "") -> dict:
        expr = _Expr()
        text = f"{expr.n('expert_pk')} = {expr.v(expert_id)}"
        if prefix:
            text += f" AND begins_with({expr.n('expert_sk')}, {expr.v(prefix)})"
        return {"IndexName": "expert", "KeyConditionExpression": text, **expr.params()}

    def relays_for_expert(self, expert_id: str, states: Sequence[str] | None = None) -> list[Relay]:
        prefixes = [_relay_prefix(s) for s in dict.fromkeys(states)] if states else [""]
        rows = [row for prefix in prefixes
                for row in self._query(**self._expert_condition(expert_id, prefix))]
        relays = [(key, r) for key, r in self._relays(rows)
                  if r.expert_id == expert_id and (not states or r.state in states)]
        return [r for _, r in sorted(relays, key=lambda t: t[0], reverse=True)]

    def list_relays(self, expert_id: str, *, limit: int, cursor: str | None = None,
                    states: Sequence[str] | None = None) -> Page:
        """Each state's newest relays (the `expert` index, where a state's entries sort by
        order key) merged (_merged_newest); a relay is in one state, so the total is one
        COUNT query per state."""
        states = sorted(set(states or RELAY_STATES))
        limit = max(1, limit)

        def newest(relay_state: str, before: str | None) -> list[tuple[str, dict]]:
            prefix = _relay_prefix(relay_state)
            expr = _Expr()
            key = f"{expr.n('expert_pk')} = {expr.v(expert_id)} AND "
            key += (f"{expr.n('expert_sk')} < {expr.v(prefix + before)}" if before
                    else f"begins_with({expr.n('expert_sk')}, {expr.v(prefix)})")
            rows = self._query(IndexName="expert", KeyConditionExpression=key,
                               ScanIndexForward=False, Limit=limit + 1, **expr.params())
            found = []
            for row in rows:
                if not row["expert_sk"].startswith(prefix):
                    break  # below `before`, a `<` condition runs on into the states before
                found.append((row["expert_sk"][len(prefix):], row))
                if len(found) > limit:
                    break
            return found
        def count() -> int:
            return sum(_side_by_side(lambda relay_state: self._count(
                **self._expert_condition(expert_id, _relay_prefix(relay_state))), states).values())
        page_rows, next_cursor, total = _merged_newest(
            "relays", _fingerprint(expert_id, *states), cursor, limit, states, newest, count)
        items = self._batch_get((row["pk"], row["sk"]) for row in page_rows)
        relays = [_record(Relay, items[(row["pk"], row["sk"])]) for row in page_rows
                  if (row["pk"], row["sk"]) in items]
        return Page(items=[r for r in relays  # the record decides, not the index
                           if r.expert_id == expert_id and r.state in states],
                    next_cursor=next_cursor, total=total)

    def open_relay_counts(self, expert_ids: Iterable[str]) -> dict[str, int]:
        """One COUNT query per person (routing asks for a few dozen candidates)."""
        return _side_by_side(lambda expert_id: self._count(
            **self._expert_condition(expert_id, "open#")), list(dict.fromkeys(expert_ids)))

    def relays_due(self, now: str) -> list[Relay]:
        expr = _Expr()
        rows = self._query(IndexName="due", KeyConditionExpression=(
            f"{expr.n('due_pk')} = {expr.v('DUE')} AND {expr.n('due_sk')} <= {expr.v(now)}"),
            **expr.params())
        due = [(r.due_at, key, r) for key, r in self._relays(rows)
               if r.state in OPEN_RELAY_STATES and r.due_at and r.due_at <= now]
        return [r for _, _, r in sorted(due, key=lambda t: (t[0], t[1]))]
