"""Past Q&A in: a Stack Exchange dump read (chalicelib/adapters/stackexchange_dump.py) and
written through the services (chalicelib/services/history_import.py), and the command."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chalicelib.__main__ import main as cli
from chalicelib.auth import Caller
from chalicelib.adapters.stackexchange_dump import parse_tags, read_dump
from chalicelib.errors import ValidationError
from chalicelib.mailparse import html_to_text
from chalicelib.schemas import AnswerIn
from chalicelib.services.history_import import HistoryImport, PastPerson
from chalicelib.services.routing import Draft

USERS = """<?xml version="1.0" encoding="utf-8"?>
<users>
  <row Id="-1" DisplayName="Community" AboutMe="&lt;p&gt;not a person&lt;/p&gt;" />
  <row Id="7" DisplayName="Ada" AboutMe="&lt;p&gt;I build &lt;b&gt;quantum&lt;/b&gt; compilers.&lt;/p&gt;" />
  <row Id="8" DisplayName="Bo" />
  <row Id="9" DisplayName="Cy" />
  <row Id="10" DisplayName="Never posted" />
</users>"""

POSTS = """<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1" AcceptedAnswerId="3" CreationDate="2018-03-12T17:00:45.567"
       OwnerUserId="9" Title="How do I compile a Toffoli gate &amp; keep depth low?"
       Body="&lt;p&gt;I need a &lt;code&gt;CCX&lt;/code&gt; with few T gates.&lt;/p&gt;"
       Tags="&lt;quantum-gate&gt;&lt;circuit-construction&gt;" />
  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00.000"
       OwnerUserId="8" Body="&lt;p&gt;Use ancillas.&lt;/p&gt;" />
  <row Id="3" PostTypeId="2" ParentId="1" CreationDate="2018-03-13T09:30:00.000"
       OwnerUserId="7" Body="&lt;p&gt;Decompose it:&lt;/p&gt;&lt;pre&gt;&lt;code&gt;ccx = 7 T gates&lt;/code&gt;&lt;/pre&gt;" />
  <row Id="4" PostTypeId="1" CreationDate="2018-04-01T10:00:00.000" Title="Question by a deleted account"
       Body="&lt;p&gt;orphan&lt;/p&gt;" Tags="&lt;qubit&gt;" />
  <row Id="5" PostTypeId="2" ParentId="99" CreationDate="2018-04-02T10:00:00.000"
       OwnerUserId="8" Body="&lt;p&gt;an answer to a question the dump does not hold&lt;/p&gt;" />
  <row Id="6" PostTypeId="5" CreationDate="2018-04-03T10:00:00.000" OwnerUserId="8" Body="tag wiki" />
  <row Id="11" PostTypeId="1" CreationDate="2018-05-01T10:00:00.000" OwnerUserId="8" Title="ab"
       Body="&lt;p&gt;a title too short for Relais&lt;/p&gt;" Tags="&lt;qubit&gt;" />
  <row Id="12" PostTypeId="2" ParentId="11" CreationDate="2018-05-01T11:00:00.000"
       OwnerUserId="7" Body="&lt;p&gt;lost with its question&lt;/p&gt;" />
</posts>"""


@pytest.fixture
def dump_folder(tmp_path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "Users.xml").write_text(USERS, encoding="utf-8")
    (folder / "Posts.xml").write_text(POSTS, encoding="utf-8")
    return folder


def history(relais) -> HistoryImport:
    return HistoryImport(relais.hr_sync, relais.profiles, relais.questions, relais.clock)


def test_the_dump_is_read_as_people_questions_and_answers(dump_folder):
    dump = read_dump(dump_folder)
    assert [p.id for p in dump.people] == ["se-7", "se-8", "se-9"]  # only people who posted
    ada = dump.people[0]
    assert (ada.name, ada.bio) == ("Ada", "I build quantum compilers.")
    toffoli = dump.questions[0]
    assert toffoli.id == "se-q1" and toffoli.asker_id == "se-9"
    assert toffoli.title == "How do I compile a Toffoli gate & keep depth low?"
    assert toffoli.body == "I need a CCX with few T gates."
    assert toffoli.tags == ("quantum-gate", "circuit-construction")
    assert toffoli.created_at == datetime(2018, 3, 12, 17, 0, 45, 567000, tzinfo=timezone.utc)
    assert [(a.id, a.author_id) for a in toffoli.answers] == [("se-a2", "se-8"), ("se-a3", "se-7")]
    assert toffoli.answers[1].body == "Decompose it:\n\nccx = 7 T gates"
    assert toffoli.accepted_answer_id == "se-a3"
    assert dump.skipped == [{"id": "4", "reason": "no author"},
                            {"id": "5", "reason": "its question is not in the dump"}]


def test_an_author_without_an_account_or_a_name_is_named_by_their_id(tmp_path):
    (tmp_path / "Posts.xml").write_text(
        '<posts><row Id="1" PostTypeId="1" CreationDate="2018-03-12T17:00:00" OwnerUserId="12" '
        'Title="Who asked this?" Tags="&lt;qubit&gt;" />'
        '<row Id="2" PostTypeId="2" ParentId="1" CreationDate="2018-03-12T18:00:00" '
        'OwnerUserId="13" Body="&lt;p&gt;me&lt;/p&gt;" /></posts>', encoding="utf-8")
    (tmp_path / "Users.xml").write_text(
        '<users><row Id="13" AboutMe="&lt;p&gt;optics&lt;/p&gt;" />'
        '<row Id="14" DisplayName="Never posted" /></users>', encoding="utf-8")
    assert [(p.id, p.name, p.bio) for p in read_dump(tmp_path).people] == [
        ("se-12", "User 12", ""), ("se-13", "User 13", "optics")]


def test_html_and_tags_are_read_as_written():
    # Posts are read by the mail reader's html_to_text: a list item a "- " line, code line
    # by line.
    html = "<p>a &lt; b</p><ul><li>one</li><li>two</li></ul><pre><code>x = 1\ny = 2</code></pre>"
    assert html_to_text(html) == "a < b\n\n\n- one\n- two\n\nx = 1\ny = 2"
    assert parse_tags("<c++><quantum-gate>") == ("c++", "quantum-gate")
    assert parse_tags("|python|pandas|") == ("python", "pandas")
    assert parse_tags("") == ()


def test_a_folder_without_posts_or_with_broken_xml_is_refused_with_the_file_named(tmp_path):
    with pytest.raises(ValidationError) as missing:
        read_dump(tmp_path)
    assert missing.value.details == [{"field": "folder", "message": "Posts.xml not found"}]
    (tmp_path / "Posts.xml").write_text("<posts><row Id='1'", encoding="utf-8")
    with pytest.raises(ValidationError) as broken:
        read_dump(tmp_path)
    assert broken.value.details[0]["field"] == "Posts.xml"


def test_a_post_without_a_readable_date_is_skipped_and_a_broken_users_file_refused(tmp_path):
    (tmp_path / "Posts.xml").write_text(
        '<posts><row Id="1" PostTypeId="1" CreationDate="last spring" OwnerUserId="7" '
        'Title="When was this asked?" Tags="&lt;time&gt;" /></posts>', encoding="utf-8")
    dump = read_dump(tmp_path)
    assert (dump.questions, dump.skipped) == ([], [{"id": "1", "reason": "no valid CreationDate"}])
    (tmp_path / "Users.xml").write_text("<users><row Id='7'", encoding="utf-8")
    with pytest.raises(ValidationError) as broken:
        read_dump(tmp_path)
    assert broken.value.details[0]["field"] == "Users.xml"


def test_import_writes_history_at_its_dates_and_tells_nobody(relais, dump_folder):
    relais.hr_sync.upsert([{"id": "se-9", "name": "Cy", "email": "cy@example.com"}])
    dump = read_dump(dump_folder)
    report = history(relais).run(dump.people, dump.questions)
    assert (report.people_created, report.people_kept) == (2, 1)
    assert (report.questions, report.answers, report.accepted) == (1, 2, 1)
    assert report.skipped == [{"id": "se-q11",
                               "reason": "title: String should have at least 3 characters"}]
    question = relais.questions.get("se-q1")
    assert (question.asker_id, question.created_at, question.status) == (
        "se-9", "2018-03-12T17:00:45Z", "answered")
    answers = {a.id: a for a in relais.questions.answers("se-q1")}
    assert answers["se-a3"].created_at == "2018-03-13T09:30:00Z" and answers["se-a3"].accepted
    assert relais.profiles.get("se-7").bio == "I build quantum compilers."
    assert relais.question_store.relays_for_question("se-q1") == []  # history is not routed
    assert relais.mailer.list(limit=10).items == []  # nobody is told of answers years old
    relais.questions.answer(Caller("se-8"), "se-q1", AnswerIn(body="A live answer, today."))
    assert [m["recipient"] for m in relais.mailer.list(limit=10).items] == ["cy@example.com"]
    # The answers are evidence: the accepted answerer is suggested for a close question.
    suggestions = relais.routing.rank(Draft("Toffoli gate decomposition with T gates",
                                            tags=("quantum-gate",)), "se-9", limit=3)
    assert suggestions[0].person_id == "se-7"


def test_import_again_changes_nothing_and_leaves_known_people_alone(relais, dump_folder):
    relais.hr_sync.upsert([{"id": "se-8", "name": "Bo Lindqvist (HR)", "active": False},
                           {"id": "se-7", "name": "Ada", "active": False}])
    dump = read_dump(dump_folder)
    first = history(relais).run(dump.people, dump.questions)
    assert (first.people_created, first.people_kept) == (1, 2)
    bo = relais.profiles.get("se-8")
    assert (bo.name, bo.active) == ("Bo Lindqvist (HR)", False)  # not renamed, not brought back
    # Bo and Ada have left: their answers cannot be written, and are reported; the question
    # stays, without an accepted answer.
    assert (first.questions, first.answers, first.accepted) == (1, 0, 0)
    assert {s["id"] for s in first.skipped} == {"se-a2", "se-a3", "se-q11"}
    assert relais.questions.get("se-q1").accepted_answer_id is None
    relais.hr_sync.upsert([{"id": "se-7", "name": "Ada"}])  # Ada is back
    again = history(relais).run(dump.people, dump.questions)
    assert (again.people_created, again.questions, again.answers, again.accepted) == (0, 0, 1, 1)
    assert again.already_there == 1  # the question
    assert relais.questions.get("se-q1").accepted_answer_id == "se-a3"
    last = history(relais).run(dump.people, dump.questions)
    assert (last.questions, last.answers, last.accepted, last.already_there) == (0, 0, 0, 2)
    assert len(relais.questions.answers("se-q1")) == 1


def test_a_person_the_directory_cannot_take_is_reported_with_the_field(relais):
    people = [PastPerson("se-1", "A" * 500), PastPerson("-bad id", "Bad")]
    report = history(relais).run(people, [])
    assert relais.profiles.get("se-1").name == "A" * 200  # a long name is cut, not refused
    assert report.skipped == [{"id": "-bad id", "reason": (
        "profiles[1].id: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._@:-]*$'")}]


def test_the_command_imports_indexes_and_reports(dump_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "data"))
    assert cli(["import-stackexchange", str(dump_folder), "--prefix", "qc-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["people_created"], report["questions"], report["answers"]) == (3, 1, 2)
    assert report["indexed"] >= 3  # Ada's bio and the two answers, at least
    assert [s["id"] for s in report["skipped_in_dump"]] == ["4", "5"]
    assert cli(["import-stackexchange", str(dump_folder), "--prefix", "qc-"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["already_there"] == 3 and "indexed" not in again  # nothing new to index


def test_the_command_names_a_missing_dump(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "data"))
    assert cli(["import-stackexchange", str(tmp_path / "nowhere")]) == 2
    assert "no Posts.xml" in capsys.readouterr().err


# The shared data folder beside the project: a real site's dump.
REAL_DUMP = (Path(__file__).resolve().parents[3] / "shared" / "data" / "se-xml"
             / "quantumcomputing_2018")


@pytest.mark.skipif(not REAL_DUMP.is_dir(), reason="no shared data folder beside the project")
def test_a_real_dump_is_read_whole():
    dump = read_dump(REAL_DUMP)
    assert len(dump.questions) == 611 and sum(len(q.answers) for q in dump.questions) == 1056
    assert sum(1 for q in dump.questions if q.accepted_answer_id) == 389
    assert all(q.title and q.tags for q in dump.questions)
    assert len(dump.skipped) == 5


def test_a_dump_becomes_routing_benchmark_data(dump_folder, tmp_path, capsys):
    from bench import stackexchange
    out = tmp_path / "site.jsonl"
    assert stackexchange.main([str(dump_folder), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # Only question 1 has an accepted answer and two answers, as in the given data.
    assert rows == [{
        "site": "site", "question_id": 1, "asker_id": 9,
        "title": "how do i compile a toffoli gate keep depth low",
        "body": "i need a ccx with few t gates", "tags": ["quantum-gate", "circuit-construction"],
        "accepted_answer_id": 3, "accepted_answerer_id": 7,
        "answers": [{"answer_id": 2, "answerer_id": 8, "text": "use ancillas"},
                    {"answer_id": 3, "answerer_id": 7, "text": "decompose it ccx 7 t gates"}]}]
    assert json.loads(capsys.readouterr().out) == {"questions": 1, "answers": 2}
    # A link counts by its text, as in the given data; other angle brackets are text.
    linked = html_to_text('<p>See <a href="https://x.example/a">the notes</a>, x &lt;y&gt;, '
                          '<a href="mailto:ada@example.com">Ada</a>.</p>')
    assert stackexchange.plain(linked) == "see the notes x y ada"


def test_the_import_writes_the_same_records_on_dynamodb(dump_folder, tmp_path, moto_aws):
    import boto3

    from chalicelib.adapters.dynamodb_store import create_tables
    from chalicelib.bootstrap import Adapters, aws_community_adapters, aws_stores, bootstrap
    from chalicelib.clock import FixedClock
    from chalicelib.config import Settings
    from tests.fakes import FakeEmbedder

    client = boto3.client("dynamodb", region_name="eu-west-1")
    create_tables(client, "relais")
    settings = Settings(backend="aws", data_dir=str(tmp_path), token_secret="t" * 40,
                        index_on_write=False, aws_region="eu-west-1")
    profiles, questions = aws_stores(settings, client)

    class Unused:  # on AWS the stream indexes: the import must not touch the index
        def __getattr__(self, name):
            raise AssertionError(f"the import used the search index ({name})")

    relais = bootstrap(settings, clock=FixedClock(), embedder=FakeEmbedder(),
                       adapters=Adapters(profile_store=profiles, question_store=questions,
                                         index=Unused(), mailer=Unused(), tokens=None,
                                         index_in_process=False,
                                         **aws_community_adapters(settings, client)))
    dump = read_dump(dump_folder)
    report = history(relais).run(dump.people, dump.questions)
    assert (report.people_created, report.questions, report.answers,
            report.accepted) == (3, 1, 2, 1)
    question = relais.questions.get("se-q1")
    assert (question.created_at, question.accepted_answer_id) == (
        "2018-03-12T17:00:45Z", "se-a3")
    assert history(relais).run(dump.people, dump.questions).already_there == 3
