"""`python -m chalicelib backup FOLDER`: the embedded profile's data copied while Relais runs,
and restored by copying it back."""
from __future__ import annotations

import threading

import pytest

from chalicelib.__main__ import main as cli_main
from chalicelib.adapters.sqlite_backup import BackupError, back_up
from chalicelib.auth import Caller, TokenIssuer, token_secret
from chalicelib.bootstrap import bootstrap
from chalicelib.config import Settings
from chalicelib.schemas import AnswerIn, QuestionIn
from chalicelib.services.routing import Draft


def live(folder, clock, embedder):
    """A Relais on files (not in memory), with a generated token secret and a raw mail."""
    settings = Settings(data_dir=str(folder))
    relais = bootstrap(settings, clock=clock, embedder=embedder)
    relais.hr_sync.upsert([{"id": "ana", "name": "Ana"}, {"id": "ben", "name": "Ben"}])
    question = relais.questions.ask(Caller("ana"), QuestionIn(
        title="How do I rotate kafka credentials?", tags=["kafka"]), route=False)
    relais.questions.answer(Caller("ben"), question.id, AnswerIn(body="With the vault job."))
    (folder / "mail").mkdir(exist_ok=True)
    (folder / "mail" / "one.eml").write_bytes(b"Subject: kept\r\n\r\nraw mail\r\n")
    return settings, relais, question


def test_a_backup_restores_records_index_secret_and_mails(tmp_path, clock, embedder):
    settings, relais, question = live(tmp_path / "data", clock, embedder)
    token = TokenIssuer(token_secret(settings)).issue("ana")
    report = back_up(settings, str(tmp_path / "copy"))
    assert report["files"] == ["relais.db", "token-secret", "mail/"]
    assert report["records"]["profiles"] == 2 and report["records"]["questions"] == 1
    assert report["records"]["answers"] == 1 and report["records"]["evidence"] >= 1
    restored_settings = Settings(data_dir=str(tmp_path / "copy"))
    restored = bootstrap(restored_settings, clock=clock, embedder=embedder)
    assert restored.question_store.get_question(question.id).title == question.title
    assert TokenIssuer(token_secret(restored_settings)).verify(token).id == "ana"
    suggested = restored.routing.rank(Draft("kafka credentials", tags=("kafka",)), "ana", limit=3)
    assert [s.person_id for s in suggested] == ["ben"]  # the search index came along
    assert (tmp_path / "copy" / "mail" / "one.eml").read_bytes().endswith(b"raw mail\r\n")


def test_a_backup_taken_during_writes_is_a_consistent_snapshot(tmp_path, clock, embedder):
    settings, relais, _ = live(tmp_path / "data", clock, embedder)
    stop = threading.Event()

    def keep_asking():
        n = 0
        while not stop.is_set():
            relais.questions.ask(Caller("ana"), QuestionIn(title=f"question {n}"), route=False)
            n += 1

    writer = threading.Thread(target=keep_asking)
    writer.start()
    try:
        reports = [back_up(settings, str(tmp_path / f"copy{i}")) for i in range(3)]
    finally:
        stop.set()
        writer.join()
    for i, report in enumerate(reports):
        copy = bootstrap(Settings(data_dir=str(tmp_path / f"copy{i}")), clock=clock,
                         embedder=embedder)
        stored = copy.question_store.list_questions(limit=1000)
        assert stored.total == report["records"]["questions"] == len(stored.items)


def test_what_cannot_be_backed_up_is_refused_and_nothing_written(tmp_path, clock, embedder):
    with pytest.raises(BackupError, match="only the embedded profile"):
        back_up(Settings(backend="aws"), str(tmp_path / "a"))
    with pytest.raises(BackupError, match="there is no database"):
        back_up(Settings(data_dir=str(tmp_path / "empty")), str(tmp_path / "b"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    settings, _, _ = live(tmp_path / "data", clock, embedder)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "relais.db").write_text("an older backup")
    with pytest.raises(BackupError, match="a backup never writes over another"):
        back_up(settings, str(tmp_path / "taken"))
    assert (tmp_path / "taken" / "relais.db").read_text() == "an older backup"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(BackupError, match="not an empty folder"):
        back_up(settings, str(tmp_path / "a-file"))
    back_up(settings, str(tmp_path / "empty-folder-is-fine"))


def test_the_command_prints_the_report_or_says_why_not(tmp_path, clock, embedder, monkeypatch,
                                                        capsys):
    live(tmp_path / "data", clock, embedder)
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "data"))
    assert cli_main(["backup", str(tmp_path / "copy")]) == 0
    assert '"questions": 1' in capsys.readouterr().out
    assert cli_main(["backup", str(tmp_path / "copy")]) == 2
    assert capsys.readouterr().err.startswith("backup: ")
