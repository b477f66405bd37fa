"""The store contracts run against the DynamoDB adapters of the aws profile, on moto."""
from __future__ import annotations

import base64
import json
import threading

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.dynamodb_community_store import (DynamoDBAuditLog,
                                                          DynamoDBCommunityStore,
                                                          DynamoDBSettingStore,
                                                          DynamoDBVoteReader)
from chalicelib.adapters.dynamodb_store import (STREAMED, DynamoDBProfileStore,
                                                DynamoDBQuestionStore, create_tables,
                                                table_names)
from chalicelib.errors import ValidationError

from .store_contracts import (AuditLogContract, CommunityStoreContract, ProfileStoreContract,
                              QuestionStoreContract, SettingStoreContract, VoteReaderContract,
                              answer, person, question, relay)

PREFIX = "relais-test"
REGION = "eu-west-1"


class OneCallAtATime:
    """A DynamoDB client whose calls run one at a time.

    DynamoDB applies each request atomically (a conditional write checks and writes as one
    step; a transaction is all or nothing). moto runs requests on the caller's thread with no
    lock, so two threads can interleave inside one request and both pass a condition. The
    contract's concurrency tests are about the adapter, not about moto: serialising whole
    requests gives moto DynamoDB's atomicity while the adapter's own read-then-conditional-
    write sequences still interleave between requests, as they would on AWS.
    """

    def __init__(self, client):
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            with self._lock:
                return attribute(*args, **kwargs)
        return call


@pytest.fixture(scope="module")
def session():
    """One boto3 session for the module: it loads the service models once (~0.5 s each)."""
    return boto3.Session(region_name=REGION, aws_access_key_id="testing",
                         aws_secret_access_key="testing", aws_session_token="testing")


@pytest.fixture
def dynamodb(session, monkeypatch):
    """A fresh moto account with the Relais tables; never reaches AWS."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = session.client("dynamodb")
        create_tables(client, PREFIX)
        yield OneCallAtATime(client)


class TestDynamoDBProfileStore(ProfileStoreContract):
    @pytest.fixture
    def store(self, dynamodb):
        return DynamoDBProfileStore(dynamodb, table_names(PREFIX)["profiles"])


class TestDynamoDBQuestionStore(QuestionStoreContract):
    @pytest.fixture
    def store(self, dynamodb):
        return DynamoDBQuestionStore(dynamodb, table_names(PREFIX)["qa"])


class TestDynamoDBCommunityStore(CommunityStoreContract):
    @pytest.fixture
    def store(self, dynamodb):
        return DynamoDBCommunityStore(dynamodb, table_names(PREFIX)["community"])


class TestDynamoDBSettingStore(SettingStoreContract):
    @pytest.fixture
    def store(self, dynamodb):
        return DynamoDBSettingStore(dynamodb, table_names(PREFIX)["community"])


class TestDynamoDBAuditLog(AuditLogContract):
    @pytest.fixture
    def store(self, dynamodb):
        return DynamoDBAuditLog(dynamodb, table_names(PREFIX)["community"])


class TestDynamoDBVoteReader(VoteReaderContract):
    @pytest.fixture
    def questions(self, dynamodb):
        return DynamoDBQuestionStore(dynamodb, table_names(PREFIX)["qa"])

    @pytest.fixture
    def votes(self, dynamodb, questions):
        return DynamoDBVoteReader(dynamodb, table_names(PREFIX)["qa"])


# What the contract does not cover but the aws profile relies on -------------------------------
@pytest.fixture
def profiles(dynamodb):
    return DynamoDBProfileStore(dynamodb, table_names(PREFIX)["profiles"])


@pytest.fixture
def questions(dynamodb):
    return DynamoDBQuestionStore(dynamodb, table_names(PREFIX)["qa"])


def test_tables_stream_new_and_old_images(dynamodb):
    assert set(STREAMED) == {"profiles", "qa"}  # what the indexer reads
    for family, name in table_names(PREFIX).items():
        table = dynamodb.describe_table(TableName=name)["Table"]
        if family in STREAMED:
            assert table["StreamSpecification"] == {"StreamEnabled": True,
                                                    "StreamViewType": "NEW_AND_OLD_IMAGES"}
            assert table["LatestStreamArn"]
        else:
            assert "LatestStreamArn" not in table
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_a_profile_change_reaches_the_stream_with_both_images(session, dynamodb, profiles):
    """What the indexer Lambda will read: the record kind and the fields before and after."""
    first = profiles.add(person("u1", "Ana", skills=["Go"]))
    profiles.update(first.replace(bio="Platform team"))
    arn = dynamodb.describe_table(TableName=table_names(PREFIX)["profiles"])["Table"][
        "LatestStreamArn"]
    # botocore 1.44 calls <account>.streams-ddb.<region>, a host moto 5.2 does not serve yet.
    streams = session.client("dynamodbstreams",
                             endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    changes = [r["dynamodb"] for r in records
               if r["dynamodb"].get("NewImage", {}).get("kind") == {"S": "profile"}]
    assert [c.get("OldImage", {}).get("bio") for c in changes] == [None, {"S": ""}]
    assert changes[-1]["NewImage"]["bio"] == {"S": "Platform team"}
    assert changes[-1]["NewImage"]["version"] == {"N": "2"}


def test_create_tables_is_idempotent(session, dynamodb):
    assert create_tables(dynamodb, PREFIX) == table_names(PREFIX)
    resource = session.resource("dynamodb")
    assert create_tables(resource, PREFIX) == table_names(PREFIX)


def test_floats_come_back_as_the_same_floats(questions):
    weights = [0.1, 2.0, 1 / 3, 1e-05, 0.0]
    created = questions.put_relay(relay("q1", "e1", score=2.0, explanation=[
        {"kind": "answer", "weight": w, "rank": n, "nested": {"w": [w]}}
        for n, w in enumerate(weights)]))
    got = questions.get_relay("q1", "e1")
    assert got == created
    assert type(got.score) is float and got.score == 2.0
    assert [e["weight"] for e in got.explanation] == weights
    assert all(type(e["rank"]) is int for e in got.explanation)


def test_non_finite_floats_are_refused(questions):
    with pytest.raises(ValueError):
        questions.put_relay(relay("q1", "e1", score=float("nan")))


def test_a_cursor_from_another_listing_or_filter_is_refused(profiles, questions):
    for n in range(3):
        profiles.add(person(f"u{n}", department="Finance", skills=["SQL"]))
        questions.add_question(question(f"q{n}", n, tags=["sql"]))
    listing = profiles.list(limit=1).next_cursor
    found = profiles.search(text="sql", limit=1).next_cursor
    asked = questions.list_questions(limit=1, tag="sql").next_cursor
    assert listing and found and asked
    for bad in (lambda: profiles.list(limit=1, cursor=found),
                lambda: profiles.list(limit=1, cursor=listing, department="Finance"),
                lambda: profiles.search(text="sql", limit=1, cursor=listing),
                lambda: profiles.search(text="python", limit=1, cursor=found),
                lambda: questions.list_questions(limit=1, cursor=asked),
                lambda: questions.list_questions(limit=1, tag="sql", cursor=listing),
                lambda: questions.list_questions(limit=1, tag="sql", cursor=asked + "x")):
        with pytest.raises(ValidationError) as refused:
            bad()
        assert refused.value.details == [{"field": "cursor",
                                          "message": "not a cursor returned by this listing"}]


def _without_total(cursor: str) -> str:
    state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    del state["t"]
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def test_a_cursor_without_its_total_counts_it_again(questions):
    """A cursor carries the total of its first page; one made before it did is still read
    (the total is counted again), never a server error."""
    for n in range(3):
        questions.add_question(question(f"q{n}", n, tags=["sql"]))
        questions.put_relay(relay(f"q{n}", "e1", n))
    for listing in (lambda **kw: questions.list_questions(tag="sql", **kw),
                    lambda **kw: questions.questions_on_tags(["sql"], **kw),
                    lambda **kw: questions.list_relays("e1", **kw)):
        first = listing(limit=2)
        second = listing(limit=2, cursor=_without_total(first.next_cursor))
        assert [first.total, second.total] == [3, 3] and len(second.items) == 1


def test_replacing_more_skills_than_a_transaction_holds(profiles):
    """50 old skills out and 50 new in is over the 100-action limit of one transaction."""
    first = profiles.add(person("u1", "Ana", skills=[f"old skill {n}" for n in range(50)]))
    profiles.update(first.replace(skills=[f"new skill {n}" for n in range(50)]))
    assert [p.id for p in profiles.search(skill="new skill 49").items] == ["u1"]
    assert profiles.search(skill="old skill 0").items == []
    assert profiles.get("u1").version == 2


def test_a_user_name_freed_by_a_rename_can_be_taken(profiles):
    ana = profiles.add(person("u1", user_name="ana"))
    profiles.update(ana.replace(user_name="ana.b"))
    profiles.add(person("u2", user_name="ANA"))
    assert profiles.find(user_name="ana").id == "u2"
    assert profiles.find(user_name="ana.b").id == "u1"


def test_search_scan_limit_bounds_a_request(dynamodb, caplog):
    """Each profile's words take ~150 kB of the search index: a 1 MB scan page holds a few."""
    table = table_names(PREFIX)["profiles"]
    for n in range(10):
        DynamoDBProfileStore(dynamodb, table).add(person(f"u{n}", "Analyst", bio="x" * 150_000))
    assert DynamoDBProfileStore(dynamodb, table).search(text="analyst").total == 10
    bounded = DynamoDBProfileStore(dynamodb, table, search_scan_limit=1)
    assert 0 < bounded.search(text="analyst").total < 10
    assert "search_scan_limit" in caplog.text


def test_answer_edits_race_votes_by_version(questions):
    """A vote changes the answer's version, so an edit from before the vote is a conflict
    rather than a silent reset of the score."""
    from chalicelib.errors import Conflict
    first = questions.add_answer(answer("a1", "q1"))
    questions.set_vote("a1", "v1", 1)
    with pytest.raises(Conflict):
        questions.update_answer(first.replace(body="edited"))
    assert questions.get_answer("a1").score == 1


def test_aws_stores_wires_both_stores_on_the_prefixed_tables(dynamodb):
    from chalicelib.bootstrap import aws_stores
    from chalicelib.config import Settings
    settings = Settings(backend="aws", table_prefix=PREFIX, aws_region=REGION,
                        directory_search_scan_limit=7)
    profile_store, question_store = aws_stores(settings)  # boto3's own client, inside moto
    profile_store.add(person("u1", "Ana"))
    question_store.add_question(question("q1"))
    assert DynamoDBProfileStore(dynamodb, table_names(PREFIX)["profiles"]).get("u1").name == "Ana"
    assert question_store.get_question("q1").title == "Question q1"
    assert profile_store.search_scan_limit == 7


def test_the_aws_profile_keeps_communities_switches_the_audit_log_and_votes(dynamodb, tmp_path):
    """Written through one bootstrap of the aws profile, read through another (a Lambda
    cold start): nothing of it was kept in the first process's memory."""
    from chalicelib.adapters.mail import aws_client, create_mail_table
    from chalicelib.auth import Caller
    from chalicelib.bootstrap import bootstrap
    from chalicelib.config import Settings
    from chalicelib.schemas import CommunityIn
    from tests.fakes import FakeEmbedder

    create_mail_table(dynamodb, PREFIX)
    settings = Settings(backend="aws", table_prefix=PREFIX, aws_region=REGION,
                        data_dir=str(tmp_path), token_secret="t" * 40, index_on_write=False)
    admin, member_caller = Caller("admin1", "admin"), Caller("u1")
    aws_client.cache_clear()  # its clients must be made inside this moto account
    try:
        first = bootstrap(settings, embedder=FakeEmbedder())
        first.profile_store.add(person("u1", "Ana"))
        created = first.communities.create(admin, CommunityIn(name="Data"))
        first.communities.join(member_caller, created.id)
        first.modules.change(admin, {"analytics": False}, None)
        first.question_store.add_answer(answer("a1", "q1"))
        first.question_store.set_vote("a1", "u1", 1)

        again = bootstrap(settings, embedder=FakeEmbedder())
        assert again.communities.get(created.id).name == "Data"
        assert again.communities.store.member_ids(created.id) == {"u1"}
        assert again.modules.is_on("analytics") is False
        assert [e.action for e in again.audit.list(admin).items] == [
            "modules.changed", "community.created"]
        assert again.privacy.votes.votes_by("u1") == [{"answer_id": "a1", "value": 1}]
    finally:
        aws_client.cache_clear()
    community_table = table_names(PREFIX)["community"]
    assert DynamoDBCommunityStore(dynamodb, community_table).get_community(created.id)
    assert DynamoDBSettingStore(dynamodb, community_table).get_setting("modules")[1] == 1


def test_votes_from_before_the_voter_index_are_indexed_once(dynamodb, questions):
    questions.add_question(question("q1"))
    questions.add_answer(answer("a1", "q1"))
    questions.add_answer(answer("a2", "q1", n=1))
    questions.set_vote("a1", "u7", 1)
    questions.set_vote("a2", "u7", -1)
    questions.set_vote("a2", "u8", 1)
    qa = table_names(PREFIX)["qa"]
    for answer_id, voter in (("a1", "u7"), ("a2", "u7")):  # as written before the index
        dynamodb.update_item(TableName=qa, Key={"pk": {"S": f"A#{answer_id}"},
                                                "sk": {"S": f"VOTE#{voter}"}},
                             UpdateExpression="REMOVE voter_pk")
    votes = DynamoDBVoteReader(dynamodb, qa)
    assert votes.votes_by("u7") == []  # what an export would miss
    assert questions.index_old_votes() == 2
    assert votes.votes_by("u7") == [{"answer_id": "a1", "value": 1},
                                    {"answer_id": "a2", "value": -1}]
    assert votes.votes_by("u8") == [{"answer_id": "a2", "value": 1}]
    assert questions.index_old_votes() == 0  # idempotent
    assert questions.get_answer("a2").score == 0  # scores untouched


def test_community_questions_written_before_their_change_index_get_it(dynamodb, questions):
    questions.add_question(question("q1", community_id="c1"))
    questions.add_question(question("q2", 1, community_id="c1"))
    questions.add_question(question("q3", 2))  # in no community: no entry to give
    changed = questions.update_question(questions.get_question("q2").replace(status="answered"))
    for question_id in ("q1", "q2", "q3"):  # as written before the index
        dynamodb.update_item(TableName=table_names(PREFIX)["qa"],
                             Key={"pk": {"S": f"Q#{question_id}"}, "sk": {"S": "Q"}},
                             UpdateExpression="REMOVE changes_pk, changes_sk")
    assert questions.community_questions_changed_since("c1", "") == []  # what recognition missed
    assert questions.index_old_community_questions() == 2
    assert questions.community_questions_changed_since("c1", "") == [
        questions.get_question("q1"), changed]
    assert questions.index_old_community_questions() == 0  # idempotent
    assert questions.get_question("q2") == changed  # the record itself untouched


def test_the_upgrade_command_indexes_old_votes_on_the_aws_profile(dynamodb, questions, capsys,
                                                                   monkeypatch):
    from chalicelib.__main__ import main

    questions.add_question(question("q1"))
    questions.add_answer(answer("a1", "q1"))
    questions.set_vote("a1", "u7", 1)
    dynamodb.update_item(TableName=table_names(PREFIX)["qa"],
                         Key={"pk": {"S": "A#a1"}, "sk": {"S": "VOTE#u7"}},
                         UpdateExpression="REMOVE voter_pk")
    monkeypatch.setenv("RELAIS_BACKEND", "aws")
    monkeypatch.setenv("RELAIS_TABLE_PREFIX", PREFIX)
    monkeypatch.setenv("RELAIS_AWS_REGION", REGION)
    assert main(["upgrade"]) == 0
    assert capsys.readouterr().out.strip().endswith("voter index entry: 1")
    assert main(["upgrade"]) == 0
    assert capsys.readouterr().out.strip().endswith("voter index entry: 0")
    monkeypatch.setenv("RELAIS_BACKEND", "embedded")
    assert main(["upgrade"]) == 0 and "nothing to do" in capsys.readouterr().out
