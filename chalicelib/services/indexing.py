"""Keeps the SearchIndex in step with the records, one change at a time or all at once."""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from .. import evidence
from ..domain import Answer, Profile, Question
from ..ports import Embedder, EvidenceDoc, ProfileStore, QuestionStore, SearchIndex

BATCH_DOCS = 512


class Indexer:
    """Builds evidence documents, embeds them (identical texts once) and writes the index."""

    def __init__(self, profiles: ProfileStore, questions: QuestionStore, index: SearchIndex,
                 embedder: Embedder):
        self.profiles = profiles
        self.questions = questions
        self.index = index
        self.embedder = embedder

    # One change at a time ----------------------------------------------------------------
    def index_profile(self, profile: Profile) -> None:
        """A profile changed: refresh its documents; a leaver's documents all go."""
        if not evidence.is_indexed(profile):
            self.index.delete_person(profile.id)
            return
        docs = evidence.profile_docs(profile)
        present = {d.id for d in docs}
        stale = [i for i in (evidence.skills_doc_id(profile.id), evidence.bio_doc_id(profile.id))
                 if i not in present]
        self.index.delete(stale)
        indexed = self.index.person_doc_ids(profile.id)
        self.index.upsert(self._with_vectors([(d, None) for d in docs]))
        # After a return (leave, reactivation) the person's answers are back in the index.
        missing = [a for a in self.questions.answers_by(profile.id)
                   if evidence.answer_doc_id(a.id) not in indexed]
        asked = self.questions.get_questions(a.question_id for a in missing)
        for answer in missing:
            if answer.question_id in asked:
                self.index_answer(asked[answer.question_id], answer)

    def index_answer(self, question: Question, answer: Answer) -> None:
        """An answer was added, edited, voted, accepted or deleted."""
        author = self.profiles.get(answer.author_id)
        if answer.deleted or author is None or not evidence.is_indexed(author):
            self.index.delete([evidence.answer_doc_id(answer.id)])
            return
        self.index.upsert(self._with_vectors([(evidence.answer_doc(question, answer), question)]))

    def index_question(self, question: Question) -> None:
        """A question changed (text, tags, accepted answer): refresh all its answers."""
        for answer in self.questions.answers_for(question.id):
            self.index_answer(question, answer)

    # Everything --------------------------------------------------------------------------
    def reindex(self, progress: Callable[[int], None] = lambda n: None) -> dict:
        """Rebuild the index from the records: idempotent, and documents that no longer
        follow from the records are removed."""
        wanted: set[str] = set()
        written = 0
        batch: list[tuple[EvidenceDoc, Question | None]] = []
        for doc, question in self._all_docs():
            wanted.add(doc.id)
            batch.append((doc, question))
            if len(batch) >= BATCH_DOCS:
                self.index.upsert(self._with_vectors(batch))
                written += len(batch)
                progress(len(batch))
                batch = []
        if batch:
            self.index.upsert(self._with_vectors(batch))
            written += len(batch)
            progress(len(batch))
        stale = sorted(self.index.doc_ids() - wanted)
        self.index.delete(stale)
        return {"documents": written, "removed": len(stale)}

    def count_documents(self) -> int:
        """How many documents a reindex will write (for progress bars)."""
        return sum(1 for _ in self._all_docs())

    def _all_docs(self) -> Iterator[tuple[EvidenceDoc, Question | None]]:
        active: set[str] = set()
        ids = self.profiles.all_ids()
        for start in range(0, len(ids), 500):
            for profile in self.profiles.get_many(ids[start:start + 500]).values():
                if evidence.is_indexed(profile):
                    active.add(profile.id)
                    for doc in evidence.profile_docs(profile):
                        yield doc, None
        cursor = None
        while True:
            page = self.questions.list_questions(limit=200, cursor=cursor)
            answers_of = self.questions.answers_for_questions(q.id for q in page.items)
            for question in page.items:
                for answer in answers_of[question.id]:
                    if answer.author_id in active:
                        yield evidence.answer_doc(question, answer), question
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

    # Vectors -----------------------------------------------------------------------------
    def _with_vectors(self, items: Iterable[tuple[EvidenceDoc, Question | None]]) -> list[EvidenceDoc]:
        """Each document's vector is the normalised mean of its texts' embeddings; all texts
        of the batch are embedded in one call, each distinct text once."""
        items = list(items)
        texts_per_doc = [evidence.embedding_text(doc, question) for doc, question in items]
        unique = list(dict.fromkeys(t for texts in texts_per_doc for t in texts))
        vectors = self.embedder.embed(unique) if unique else np.zeros((0, 0), np.float32)
        position = {text: i for i, text in enumerate(unique)}
        docs = []
        for (doc, _), texts in zip(items, texts_per_doc):
            if texts:
                mean = vectors[[position[t] for t in texts]].mean(axis=0)
                norm = float(np.linalg.norm(mean))
                doc.vector = (mean / norm if norm else mean).astype(np.float32)
            docs.append(doc)
        return docs
