"""The SearchIndex contract: one suite, run against every backend."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from chalicelib.ports import EvidenceDoc
from tests.fakes import FakeEmbedder

EMBED = FakeEmbedder()


def doc(doc_id, person, text, kind="answer", **extra) -> EvidenceDoc:
    return EvidenceDoc(id=doc_id, person_id=person, kind=kind, text=text,
                       vector=EMBED.embed([text])[0], **extra)


CORPUS = [
    doc("answer:1", "alice", "How to tune PostgreSQL autovacuum on large tables",
        question_id="q1", accepted=True, tags=["postgresql"]),
    doc("answer:2", "bob", "Kubernetes pod restarts with OOMKilled errors", question_id="q2",
        tags=["kubernetes"]),
    doc("answer:3", "carol", "Comptabiliser une note de frais en devise étrangère",
        question_id="q3", tags=["comptabilité"]),
    doc("skills:alice", "alice", "PostgreSQL; Python", kind="skills"),
    doc("skills:bob", "bob", "Kubernetes; Docker", kind="skills"),
    doc("bio:carol", "carol", "Comptable à Lyon, TVA et notes de frais", kind="bio"),
]


class SearchIndexContract:
    """Subclasses provide an empty `index` fixture."""

    @pytest.fixture
    def filled(self, index):
        index.upsert([EvidenceDoc(**{**d.__dict__}) for d in CORPUS])
        return index

    def test_bm25_finds_words_best_first_with_metadata(self, filled):
        hits = filled.bm25("postgresql autovacuum", 10)
        assert hits[0].doc.id == "answer:1"
        assert hits[0].doc.person_id == "alice" and hits[0].doc.accepted
        assert hits[0].doc.question_id == "q1" and hits[0].doc.tags == ["postgresql"]
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    def test_bm25_ignores_accents_and_case(self, filled):
        assert "answer:3" in {h.doc.id for h in filled.bm25("ETRANGERE devise", 10)}
        assert "bio:carol" in {h.doc.id for h in filled.bm25("comptable lyon", 10)}

    def test_knn_ranks_by_cosine(self, filled):
        query = EMBED.embed(["Kubernetes pod restarts with OOMKilled errors"])[0]
        hits = filled.knn(query, 3)
        assert hits[0].doc.id == "answer:2"
        assert hits[0].score == pytest.approx(1.0, abs=1e-3)
        assert len(hits) == 3

    def test_excluded_people_never_come_back(self, filled):
        query = EMBED.embed(["PostgreSQL autovacuum"])[0]
        bm25, knn = filled.retrieve("postgresql", query, 10, exclude_people=["alice"])
        assert all(h.doc.person_id != "alice" for h in bm25 + knn)
        assert len(knn) == 4  # the filter does not eat result slots

    def test_upsert_replaces_and_delete_removes(self, filled):
        filled.upsert([doc("answer:2", "bob", "Terraform state locking")])
        assert "answer:2" in {h.doc.id for h in filled.bm25("terraform", 10)}
        assert "answer:2" not in {h.doc.id for h in filled.bm25("oomkilled", 10)}
        filled.delete(["answer:2", "never-indexed"])
        assert "answer:2" not in filled.doc_ids()
        query = EMBED.embed(["Terraform state locking"])[0]
        assert "answer:2" not in {h.doc.id for h in filled.knn(query, 10)}

    def test_delete_person_removes_all_their_documents(self, filled):
        assert filled.person_doc_ids("alice") == {"answer:1", "skills:alice"}
        filled.delete_person("alice")
        assert filled.person_doc_ids("alice") == set()
        assert filled.doc_ids() == {d.id for d in CORPUS} - {"answer:1", "skills:alice"}

    def test_an_empty_query_finds_nothing(self, filled):
        assert filled.bm25("", 10) == [] and filled.bm25("the of and", 10) == []

    def test_retrieve_equals_the_two_lists(self, filled):
        query = EMBED.embed(["note de frais"])[0]
        bm25, knn = filled.retrieve("note de frais", query, 5)
        assert [h.doc.id for h in bm25] == [h.doc.id for h in filled.bm25("note de frais", 5)]
        assert [h.doc.id for h in knn] == [h.doc.id for h in filled.knn(query, 5)]
        assert np.isfinite([h.score for h in bm25 + knn]).all()


class ExpertiseContract:
    """Inferred expertise and activity, with recency. Subclasses provide an empty `index`."""

    NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)

    @pytest.fixture
    def answers(self, index):
        def answer(number, person, tags, days_ago):
            created = (self.NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
            return doc(f"answer:{number}", person, f"question {number}", question_id=f"q{number}",
                       tags=tags, created_at=created)
        index.upsert([answer(1, "ana", ["kafka", "java"], 0), answer(2, "ana", ["kafka"], 180),
                      answer(3, "ben", ["kafka"], 0), answer(4, "ben", ["vat"], 0),
                      answer(5, "cy", ["java"], 360),
                      doc("skills:dan", "dan", "kafka", kind="skills", tags=["kafka"])])
        return index

    def test_tag_expertise_is_each_persons_share_with_recency(self, answers):
        result = answers.tag_expertise(["kafka", "java"], self.NOW, 10)
        assert result.totals["kafka"] == pytest.approx(2.5, rel=1e-3)  # 1 + 0.5 + 1
        assert result.totals["java"] == pytest.approx(1.25, rel=1e-3)  # 1 + 0.25
        assert result.people["ana"] == pytest.approx({"kafka": 1.5, "java": 1.0}, rel=1e-3)
        assert list(result.people) == ["ana", "ben", "cy"]  # declared skills are not answers
        assert "dan" not in result.people

    def test_tag_expertise_keeps_the_strongest_first(self, index):
        # "rare" was answered once, by rosa; "common" 9 times, 4 of them by carl: over the
        # square root of each tag's total, carl (4/3) is stronger than rosa (1/1).
        index.upsert([doc("answer:r", "rosa", "q", question_id="qr", tags=["rare"],
                          created_at="2026-06-01T00:00:00Z")]
                     + [doc(f"answer:c{i}", "carl" if i < 4 else f"p{i}", "q",
                            question_id=f"qc{i}", tags=["common"],
                            created_at="2026-06-01T00:00:00Z") for i in range(9)])
        result = index.tag_expertise(["rare", "common"], self.NOW, 1)
        assert list(result.people) == ["carl"]
        assert result.totals == pytest.approx({"rare": 1.0, "common": 9.0}, rel=1e-3)

    def test_tag_expertise_follows_writes_after_a_read(self, answers):
        before = answers.tag_expertise(["kafka"], self.NOW, 10)
        assert "cy" not in before.people
        answers.upsert([doc("answer:9", "cy", "question 9", question_id="q9", tags=["kafka"],
                            created_at=self.NOW.strftime("%Y-%m-%dT%H:%M:%SZ"))])
        after = answers.tag_expertise(["kafka"], self.NOW, 10)
        assert after.totals["kafka"] == pytest.approx(before.totals["kafka"] + 1.0, rel=1e-3)
        assert after.people["cy"] == pytest.approx({"kafka": 1.0}, rel=1e-3)
        answers.delete(["answer:9"])
        again = answers.tag_expertise(["kafka"], self.NOW, 10)
        assert again.totals["kafka"] == pytest.approx(before.totals["kafka"], rel=1e-3)
        assert "cy" not in again.people

    def test_tag_expertise_excludes_people_and_limits(self, answers):
        result = answers.tag_expertise(["kafka"], self.NOW, 1, exclude_people=["ana"])
        assert list(result.people) == ["ben"]
        assert answers.tag_expertise(["unknown"], self.NOW, 10).people == {}

    def test_activity_counts_recent_answers_more(self, answers):
        activity = answers.activity(["cy"], self.NOW, top=2)  # activity half-life: 30 days
        assert activity["ana"] == pytest.approx(1 + 0.5 ** 6, rel=1e-3)
        assert activity["ben"] == pytest.approx(2.0, rel=1e-3)
        assert activity["cy"] == pytest.approx(0.5 ** 12, rel=1e-3)
        assert "dan" not in activity

    def test_removed_answers_stop_counting(self, answers):
        answers.delete(["answer:3", "answer:4"])
        assert "ben" not in answers.tag_expertise(["kafka"], self.NOW, 10).people
        assert "ben" not in answers.activity([], self.NOW, top=10)


class PersonMatchContract:
    """Each person taken as a whole: a profile document and a topics vector built from their
    answers, kept up to date as answers come and go. Subclasses provide an empty `index`."""

    NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)

    def answer(self, number, person, text, tags=(), days_ago=0, answer=""):
        created = (self.NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return doc(f"answer:{number}", person, text, question_id=f"q{number}", tags=list(tags),
                   created_at=created, answer=answer)

    @pytest.fixture
    def answered(self, index):
        index.upsert([
            self.answer(1, "ana", "postgresql vacuum tuning", ["postgresql"]),
            self.answer(2, "ana", "postgresql index bloat", ["postgresql"]),
            self.answer(3, "ben", "kafka consumer lag", ["kafka"], answer="raise the partitions"),
            self.answer(4, "ben", "postgresql replication slots", ["postgresql"]),
            doc("skills:dan", "dan", "postgresql; kafka", kind="skills",
                tags=["postgresql", "kafka"]),
            doc("bio:dan", "dan", "postgresql kafka consumer lag expert", kind="bio")])
        return index

    def vector(self, text):
        return EMBED.embed([text])[0]

    def test_the_profile_holds_all_of_a_persons_answers(self, answered):
        found = answered.people("postgresql", self.vector("postgresql"), 10).profile
        assert list(found)[:2] == ["ana", "ben"]  # ana answered twice on it, ben once
        assert found["ana"] > found["ben"] > 0
        assert "dan" not in found  # declared skills and bios are not answers

    def test_the_profile_reads_tags_and_answer_text(self, answered):
        assert list(answered.people("", self.vector("x"), 10, tags=["kafka"]).profile) == ["ben"]
        assert list(answered.people("partitions", self.vector("x"), 10).profile) == ["ben"]

    def test_topics_rank_people_by_the_mean_of_their_questions(self, answered):
        topics = answered.people("kafka consumer lag", self.vector("kafka consumer lag"), 10).topics
        assert list(topics)[0] == "ben"
        assert 0 < topics["ben"] <= 1 and "dan" not in topics
        assert all(value > 0 for value in topics.values())

    def test_recent_answers_weigh_more_in_topics(self, index):
        index.upsert([self.answer(1, "eve", "terraform state locking", days_ago=0),
                      self.answer(2, "eve", "excel pivot tables", days_ago=720)])
        topics = index.people("", self.vector("terraform state locking"), 10).topics
        older = index.people("", self.vector("excel pivot tables"), 10).topics
        assert topics["eve"] > older["eve"] > 0

    def test_edits_and_removals_follow(self, answered):
        answered.upsert([self.answer(3, "ben", "terraform modules", ["terraform"])])
        assert "ben" not in answered.people("kafka", self.vector("kafka"), 10).profile
        assert list(answered.people("terraform", self.vector("x"), 10).profile) == ["ben"]
        answered.delete(["answer:3", "answer:4"])
        found = answered.people("postgresql terraform", self.vector("postgresql replication slots"),
                              10)
        assert "ben" not in found.profile and "ben" not in found.topics
        answered.delete_person("ana")
        found = answered.people("postgresql", self.vector("postgresql vacuum tuning"), 10)
        assert found.profile == {} and found.topics == {}

    def test_excluded_people_and_k(self, answered):
        found = answered.people("postgresql", self.vector("postgresql index bloat"), 10,
                              exclude_people=["ana"])
        assert "ana" not in found.profile and "ana" not in found.topics
        assert list(found.profile) == ["ben"] and list(found.topics) == ["ben"]
        top = answered.people("postgresql", self.vector("postgresql index bloat"), 1)
        assert list(top.profile) == ["ana"] and list(top.topics) == ["ana"]
