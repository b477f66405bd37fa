"""The indexer Lambda on DynamoDB stream batches (moto) into a real OpenSearch node."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from chalicelib.adapters.dynamodb_store import STREAMED, create_tables, table_names
from chalicelib.auth import Caller
from chalicelib.bootstrap import Adapters, aws_community_adapters, aws_stores, bootstrap
from chalicelib.config import Settings
from chalicelib.schemas import AnswerIn, ProfilePatch, QuestionIn
from indexer.lambda_handler import StreamIndexer
from chalicelib.services.indexing import Indexer
from tests.conftest import MOTO_REGION
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.opensearch

REGION = MOTO_REGION
EVENTS = Path(__file__).resolve().parent.parent / "events"


class NoMail:
    def send(self, **kwargs):
        return "<none@test>"


@pytest.fixture
def aws(tmp_path, opensearch_index, moto_aws):
    client = boto3.client("dynamodb", region_name=REGION)
    create_tables(client, "relais")
    settings = Settings(backend="aws", data_dir=str(tmp_path), token_secret="t" * 40,
                        index_on_write=False, aws_region=REGION)
    profiles, questions = aws_stores(settings, client)
    embedder = FakeEmbedder()
    relais = bootstrap(settings, embedder=embedder, adapters=Adapters(
        profile_store=profiles, question_store=questions, index=opensearch_index,
        mailer=NoMail(), tokens=None, index_in_process=False,
        **aws_community_adapters(settings, client)))
    indexer = Indexer(profiles, questions, opensearch_index, embedder)
    yield relais, StreamIndexer(indexer, profiles, questions, opensearch_index), client


def stream_event(client) -> dict:
    """Every record of both streamed tables, shaped as Lambda delivers them."""
    streams = boto3.client("dynamodbstreams", region_name=REGION,
                           endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com")
    records = []
    for name in (table_names("relais")[family] for family in STREAMED):
        arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON")
            for record in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]:
                record["eventSourceARN"] = arn
                record["dynamodb"].pop("ApproximateCreationDateTime", None)
                records.append(record)
    return {"Records": records}


def write_some_records(relais) -> None:
    relais.hr_sync.upsert([{"id": f"p{i}", "name": f"Person {i}"} for i in range(6)])
    for i in range(6):
        relais.profiles.edit(Caller(f"p{i}"), f"p{i}", ProfilePatch(
            skills=["kafka", "postgresql"] if i % 2 else ["vat", "payroll"]))
    for i in range(4):
        question = relais.questions.ask(Caller("p0"), QuestionIn(title=f"Kafka lag number {i}"),
                                        route=False)
        answer = relais.questions.answer(Caller(f"p{i + 1}"), question.id,
                                         AnswerIn(body="Check the consumer group offsets."))
        relais.questions.accept(Caller("p0"), question.id, answer.id)


def expected_ids(stream_indexer) -> set[str]:
    return {doc.id for doc, _ in stream_indexer.indexer._all_docs()}


def test_a_batch_indexes_the_records_and_redelivery_changes_nothing(aws):
    relais, stream_indexer, client = aws
    write_some_records(relais)
    event = stream_event(client)
    assert stream_indexer.process(event) == {"batchItemFailures": []}
    assert stream_indexer.index.doc_ids() == expected_ids(stream_indexer) != set()
    assert stream_indexer.process(event) == {"batchItemFailures": []}  # idempotent
    assert stream_indexer.index.doc_ids() == expected_ids(stream_indexer)


def test_a_leaver_leaves_the_index(aws):
    relais, stream_indexer, client = aws
    write_some_records(relais)
    stream_indexer.process(stream_event(client))
    relais.hr_sync.upsert([{"id": "p1", "name": "Person 1", "active": False}])
    stream_indexer.process(stream_event(client))
    assert stream_indexer.index.person_doc_ids("p1") == set()
    assert stream_indexer.index.person_doc_ids("p3") != set()


def test_poison_records_are_reported_and_the_rest_indexed(aws):
    relais, stream_indexer, client = aws
    write_some_records(relais)
    event = stream_event(client)
    poison = json.loads((EVENTS / "poison_record.json").read_text())
    event["Records"].insert(3, poison)
    result = stream_indexer.process(event)
    assert result == {"batchItemFailures": [
        {"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}
    assert stream_indexer.index.doc_ids() == expected_ids(stream_indexer)


def test_the_recorded_event_shapes_are_understood(aws):
    relais, stream_indexer, _ = aws
    relais.hr_sync.upsert([{"id": "p9", "name": "Ana"}])
    relais.profiles.edit(Caller("p9"), "p9", ProfilePatch(skills=["kafka"]))
    event = json.loads((EVENTS / "profile_modify.json").read_text())
    assert stream_indexer.process(event) == {"batchItemFailures": []}
    assert stream_indexer.index.person_doc_ids("p9") == {"skills:p9"}


def test_nothing_is_lost_when_opensearch_is_down_mid_batch(aws, opensearch_node):
    relais, stream_indexer, client = aws
    write_some_records(relais)
    # One event source mapping per table: sequence numbers are unique within a stream only.
    streams: dict[str, list] = {}
    for record in stream_event(client)["Records"]:
        streams.setdefault(record["eventSourceARN"], []).append(record)
    failed: dict[str, list] = {}
    handled = []
    handle = stream_indexer.handle

    def handle_then_fail_mid_batch(record):
        handled.append(record)
        if len(handled) == 5:
            opensearch_node.stop()  # the node goes down in the middle of the first batch
        return handle(record)

    stream_indexer.handle = handle_then_fail_mid_batch
    try:
        for arn, records in streams.items():
            ids = {f["itemIdentifier"] for f in
                   stream_indexer.process({"Records": records})["batchItemFailures"]}
            failed[arn] = [r for r in records if r["dynamodb"]["SequenceNumber"] in ids]
    finally:
        opensearch_node.start()
        stream_indexer.handle = handle
    assert len(handled) > 5
    kinds = {r["dynamodb"]["NewImage"]["kind"]["S"] for rs in failed.values() for r in rs}
    assert kinds == {"profile", "answer", "question"}  # every record that needed the index
    assert stream_indexer.index.doc_ids() != expected_ids(stream_indexer)  # not there yet
    for records in failed.values():  # the mapping delivers the failed records again
        assert stream_indexer.process({"Records": records}) == {"batchItemFailures": []}
    assert stream_indexer.index.doc_ids() == expected_ids(stream_indexer)
