"""The indexer Lambda: DynamoDB stream batches -> evidence documents -> OpenSearch.

Each stream record is only a trigger: the handler reads the record's current state from the
table and indexes that, so redelivered, duplicated or out-of-order records all converge on
the same index (idempotent by record version). Failed records are reported in
`batchItemFailures`; the event source mapping retries them, bisecting the batch, and sends
records that keep failing to the SQS dead-letter queue (infra/).
"""
from __future__ import annotations

import logging

from aws_lambda_powertools.utilities.batch import (BatchProcessor, EventType,
                                                   process_partial_response)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib import evidence
from chalicelib.ports import ProfileStore, QuestionStore, SearchIndex

log = logging.getLogger("relais.indexer")


class PoisonRecord(Exception):
    """A stream record that can never be indexed (it is dead-lettered after retries)."""


class StreamIndexer:
    """Applies one stream record to the index."""

    def __init__(self, indexer, profiles: ProfileStore, questions: QuestionStore,
                 index: SearchIndex):
        self.indexer = indexer
        self.profiles = profiles
        self.questions = questions
        self.index = index

    def handle(self, record: DynamoDBRecord) -> str:
        stream = record.dynamodb
        image = (stream.new_image or stream.old_image) if stream else None
        if not image or "kind" not in image:
            raise PoisonRecord(f"record {record.event_id} has no image with a kind")
        kind = image["kind"]
        record_id = image.get("id")
        if kind in ("profile", "question", "answer") and not isinstance(record_id, str):
            raise PoisonRecord(f"{kind} record {record.event_id} has no id")
        if kind == "profile":
            profile = self.profiles.get(record_id)
            if profile is None:
                self.index.delete_person(record_id)
            elif self._stale(image, profile.version):
                return "stale"
            else:
                self.indexer.index_profile(profile)
        elif kind == "answer":
            answer = self.questions.get_answer(record_id)
            question = self.questions.get_question(answer.question_id) if answer else None
            if answer is None or question is None:
                self.index.delete([evidence.answer_doc_id(record_id)])
            elif self._stale(image, answer.version):
                return "stale"
            else:
                self.indexer.index_answer(question, answer)
        elif kind == "question":
            question = self.questions.get_question(record_id)
            if question is not None and not self._stale(image, question.version):
                self.indexer.index_question(question)
        else:
            return "ignored"  # skills, tags, votes, relays: their parent record carries them
        return "indexed"

    @staticmethod
    def _stale(image: dict, current_version: int) -> bool:
        """A newer version exists: its own stream record will index it."""
        try:
            return int(image.get("version", 0)) < current_version
        except (TypeError, ValueError):
            raise PoisonRecord("the record's version is not a number") from None

    def process(self, event: dict, context=None) -> dict:
        # When every record fails (OpenSearch down), report them all rather than raise: the
        # mapping retries exactly the same records either way, and the outcome stays explicit.
        processor = BatchProcessor(event_type=EventType.DynamoDBStreams,
                                   raise_on_entire_batch_failure=False)
        return process_partial_response(event=event, record_handler=self.handle,
                                        processor=processor, context=context)


_stream_indexer: StreamIndexer | None = None


def stream_indexer() -> StreamIndexer:
    """Built once per Lambda container, on the first batch."""
    global _stream_indexer
    if _stream_indexer is None:
        from chalicelib.bootstrap import bootstrap
        from chalicelib.config import Settings

        relais = bootstrap(Settings.from_env(backend="aws", index_on_write=False))
        _stream_indexer = StreamIndexer(relais.indexer, relais.profile_store, relais.question_store,
                                        relais.index)
    return _stream_indexer


def handler(event: dict, context=None) -> dict:
    """Lambda entry point for the DynamoDB stream event source mapping."""
    return stream_indexer().process(event, context)
