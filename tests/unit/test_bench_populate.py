"""The performance bench's bulk load leaves the same records as Relais's own write path."""
from __future__ import annotations

from bench import synthetic
from bench.perf import populate
from chalicelib.bootstrap import bootstrap
from tests.conftest import make_settings
from tests.fakes import FakeEmbedder

TABLES = {
    "profiles": "SELECT * FROM profiles ORDER BY id",
    "profile_skills": "SELECT * FROM profile_skills ORDER BY profile_id, skill_key",
    "profiles_fts": "SELECT rowid, name, skills, text FROM profiles_fts ORDER BY rowid",
    "evidence": "SELECT * FROM evidence ORDER BY rid",
    "evidence_fts": "SELECT rowid, text, tags, answer FROM evidence_fts ORDER BY rowid",
    "evidence_terms": "SELECT * FROM evidence_terms ORDER BY rid",
    "evidence_vocab": "SELECT * FROM evidence_vocab ORDER BY id",
    "person_profile": "SELECT * FROM person_profile ORDER BY rid",
    "person_fts": "SELECT rowid, text, tags, answer FROM person_fts ORDER BY rowid",
    "person_tags": "SELECT * FROM person_tags ORDER BY person_id, tag",
    "person_activity": "SELECT * FROM person_activity ORDER BY person_id",
    "index_meta": "SELECT * FROM index_meta ORDER BY key",
}


def loaded(tmp_path, name: str, bulk: bool, people: int = 120) -> tuple[dict, int]:
    relais = bootstrap(make_settings(tmp_path / name, index_on_write=False),
                       embedder=FakeEmbedder())
    documents = populate(relais, people, bulk=bulk, batch_docs=100)
    db = relais.profile_store.db
    return {table: [tuple(row) for row in db.query(sql)] for table, sql in TABLES.items()}, \
        documents


def test_bulk_load_writes_what_profile_store_add_writes(tmp_path):
    bulk, bulk_docs = loaded(tmp_path, "bulk", bulk=True)
    one_by_one, docs = loaded(tmp_path, "add", bulk=False)
    assert bulk_docs == docs == 120 + 3 * 120
    assert len(bulk["profiles"]) == len(bulk["profiles_fts"]) == 120
    for table in TABLES:
        assert bulk[table] == one_by_one[table], table


def test_the_synthetic_company_is_deterministic_for_a_seed():
    first = list(synthetic.company(200, seed=42))
    assert first == list(synthetic.company(200, seed=42))
    assert first != list(synthetic.company(200, seed=43))
    answers = [item for item in first if item[0] == "answer"]
    assert len(answers) == 600
    assert all(item[5] == [s for s in synthetic.SUBJECTS if s in item[3]][:3] for item in answers)
