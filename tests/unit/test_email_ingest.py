"""The email channel end to end in-process: ask, relay, answer, add, away, trust, idempotence."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chalicelib.auth import Caller
from chalicelib.mail_ports import InboundRecord
from chalicelib.ports import MailNotSent
from chalicelib.schemas import AnswerIn, ProfilePatch, QuestionIn
from tests.email_kit import (ALICE, ASK, MAIL_HOST, ask, build_mail, fixture, make_relais,
                             outbox, relay_mail, reply, reply_address)

@pytest.fixture
def relais(tmp_path, clock):
    """The seeded organisation of tests.email_kit, with mail (`clock` is conftest's)."""
    return make_relais(tmp_path, clock=clock)


def test_a_mail_to_the_ask_address_becomes_a_routed_question(relais, tmp_path):
    result = ask(relais, message_id="<q1@acme.example>")
    question = relais.questions.get(result.question_id)
    assert question.title == "How do I set up the VPN on Linux?"
    assert "cannot connect to the VPN from my Linux laptop" in question.body
    assert question.asker_id == "asker" and not question.anonymous
    relays = relais.question_store.relays_for_question(question.id)
    assert len(relays) == 2
    for relay in relays:
        expert = relais.profile_store.get(relay.expert_id)
        [mail] = outbox(relais, "relay", expert.email)
        assert reply_address(mail).startswith("reply+") and reply_address(mail).endswith(MAIL_HOST)
        assert mail["headers"]["X-Relais-Kind"] == "relay"
        assert "Auto-Submitted" not in mail["headers"]  # out-of-office notices must come back
    [ack] = outbox(relais, "acknowledgement", ALICE)
    assert ack["headers"]["Auto-Submitted"] == "auto-replied"
    assert ack["headers"]["In-Reply-To"] == "<q1@acme.example>"
    for relay in relays:
        assert relais.profile_store.get(relay.expert_id).name in ack["text"]
    kept = tmp_path / "mail" / result.stored
    assert kept.read_bytes().startswith(b"From: Alice Martin")
    record = relais.mail_ledger.get_inbound("<q1@acme.example>")
    assert (record.outcome, record.question_id) == ("question", question.id)


def test_the_sender_is_matched_whatever_the_case_of_the_address(relais):
    result = relais.email_in.ingest(build_mail(sender="MARIE.CURIE@ACME.EXAMPLE"), ALICE, [ASK])
    assert result.outcome == "question"
    assert relais.questions.get(result.question_id).asker_id == "vpn1"


def test_the_acknowledgement_lists_similar_answered_questions(relais):
    earlier = relais.questions.ask(Caller("vpn2"), QuestionIn(
        title="VPN profile for Linux laptops", body="Which VPN profile works on Linux?"))
    relais.questions.answer(Caller("vpn1"), earlier.id, AnswerIn(body="The Corp-2 VPN profile."))
    ask(relais)
    [ack] = outbox(relais, "acknowledgement", ALICE)
    assert "Answered questions that look similar:" in ack["text"]
    assert f"VPN profile for Linux laptops: http://127.0.0.1:8000/questions/{earlier.id}" \
        in ack["text"]


@pytest.mark.parametrize("name", ["reply_outlook_en.eml", "reply_outlook_fr.eml",
                                  "reply_gmail_en.eml", "reply_gmail_fr.eml",
                                  "reply_apple_en.eml", "reply_apple_fr.eml",
                                  "reply_thunderbird_en.eml", "reply_thunderbird_fr.eml",
                                  "reply_outlook_html_only.eml"])
def test_a_reply_to_a_relay_becomes_the_experts_answer_and_reaches_the_asker(relais, name):
    question_id = ask(relais, message_id="<q1@acme.example>").question_id
    mail, expert = relay_mail(relais, question_id)
    result = reply(relais, mail, expert, name)
    assert result.outcome == "answer", result
    [answer] = relais.questions.answers(question_id)
    assert answer.author_id == expert.id and answer.id == result.answer_id
    assert "Corp-2" in answer.body
    for quoted in ("Hello Marie", "wrote:", "a écrit", "From:", "De :", "Cordialement",
                   "Best regards", "Sent from", "Envoyé de", "Network Engineer", "--"):
        assert quoted not in answer.body
    assert relais.question_store.get_relay(question_id, expert.id).state == "answered"
    [ack] = outbox(relais, "acknowledgement", ALICE)
    [answered] = outbox(relais, "answer", ALICE)
    assert answer.body in answered["text"] and expert.name in answered["text"]
    # The answer threads under the asker's own mail and the acknowledgement.
    assert answered["headers"]["In-Reply-To"] == ack["message_id"]
    assert answered["headers"]["References"].split() == ["<q1@acme.example>", ack["message_id"]]


def test_a_reply_to_a_watched_tag_mail_answers_the_question(relais):
    for person in ("vpn1", "vpn2", "vpn3", "vpn4"):
        relais.profiles.edit(Caller(person), person, ProfilePatch(watched_tags=["vpn"]))
    question = relais.questions.ask(Caller("asker"), QuestionIn(
        title="The VPN drops every hour on Linux", tags=["vpn"]))
    relayed = {r.expert_id for r in relais.question_store.relays_for_question(question.id)}
    assert len(relayed) == 2  # relay_count; the two others watch the tag
    watchers = [relais.profile_store.get(p) for p in ("vpn1", "vpn2", "vpn3", "vpn4")
                if p not in relayed]
    [mail] = outbox(relais, "watch", watchers[0].email)
    assert all(not outbox(relais, "watch", relais.profile_store.get(p).email) for p in relayed)
    assert reply_address(mail).startswith("reply+")
    result = reply(relais, mail, watchers[0])
    assert result.outcome == "answer", result
    [answer] = relais.questions.answers(question.id)
    assert answer.author_id == watchers[0].id and "Corp-2" in answer.body


def test_an_anonymous_question_never_shows_the_asker_to_experts(relais):
    question_id = ask(relais, subject="[anonymous] Is the VPN logged per person?",
                      text="I use the VPN at night, do they log it per user? Thanks\n"
                           "Alice Martin, alice.martin@acme.example\n\n-- \nAlice Martin\nSales"
                      ).question_id
    question = relais.questions.get(question_id)
    assert question.anonymous and question.title == "Is the VPN logged per person?"
    mail, expert = relay_mail(relais, question_id)
    reply(relais, mail, expert)
    mail_to_experts = [m for m in outbox(relais) if m["recipient"] != ALICE]
    assert mail_to_experts
    for sent in mail_to_experts:
        seen = (sent["subject"] + sent["text"] + str(sent["headers"])).lower()
        assert "alice" not in seen and "martin" not in seen and ALICE not in seen
    assert outbox(relais, "answer", ALICE)  # the asker still hears back
    # Admins listing the outbox do not see who got the mails about it, nor find them by address.
    listed = relais.mailer.list(limit=50).items
    to_asker = [m for m in listed if m["kind"] in ("acknowledgement", "answer")]
    assert len(to_asker) == 2
    assert all(m["recipient"] is None and m["text"] is None for m in to_asker)
    assert relais.mailer.list(limit=50, recipient=ALICE).items == []


def test_a_reply_to_the_acknowledgement_adds_to_the_question(relais):
    question_id = ask(relais).question_id
    [ack] = outbox(relais, "acknowledgement", ALICE)
    address = reply_address(ack)
    raw = build_mail(to=address, subject="Re: " + ack["subject"],
                     text="It is Ubuntu 24.04.\n\nOn Mon, Jan 5, 2026 at 9:00 AM Relais "
                          f"<{address}> wrote:\n> Relais received your question\n",
                     headers={"In-Reply-To": ack["message_id"]})
    result = relais.email_in.ingest(raw, ALICE, [address])
    assert (result.outcome, result.question_id) == ("addition", question_id)
    body = relais.questions.get(question_id).body
    assert body.endswith("It is Ubuntu 24.04.") and "[Added by email," in body
    assert "Relais received" not in body
    additions = outbox(relais, "addition")
    assert len(additions) == 2 and all("It is Ubuntu 24.04." in m["text"] for m in additions)
    relay_ids = {m["recipient"]: m["message_id"] for m in outbox(relais, "relay")}
    for sent in additions:  # threaded under each expert's relay mail
        assert sent["headers"]["In-Reply-To"] == relay_ids[sent["recipient"]]


def test_a_reply_sent_to_our_from_address_threads_by_in_reply_to(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    raw = build_mail(sender=expert.email, to=f"relais@{MAIL_HOST}", subject="Re: VPN",
                     text="Corp-2, then restart.", headers={"In-Reply-To": mail["message_id"]})
    result = relais.email_in.ingest(raw, expert.email, [f"relais@{MAIL_HOST}"])
    assert result.outcome == "answer"
    assert relais.questions.answers(question_id)[0].body == "Corp-2, then restart."


@pytest.mark.parametrize("name, until", [("ooo_outlook_en.eml", "2026-01-19"),
                                         ("ooo_outlook_fr.eml", "2026-01-16"),
                                         ("ooo_gmail_en.eml", "2026-01-21"),
                                         ("ooo_subject_only_fr.eml", "2026-01-20"),
                                         ("ooo_xautoreply.eml", "2026-01-08")])
def test_an_out_of_office_reply_marks_the_expert_away_and_passes_the_question_on(relais, name,
                                                                                until):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    sent_before = len(outbox(relais))
    result = reply(relais, mail, expert, name)
    assert result.outcome == "away", result
    assert relais.profile_store.get(expert.id).away_until == until
    assert relais.questions.answers(question_id) == []
    relays = relais.question_store.relays_for_question(question_id)
    assert relais.question_store.get_relay(question_id, expert.id).state == "declined"
    assert len(relays) == 3 and relays[-1].reason == "reroute"
    new_mails = outbox(relais)[sent_before:]
    assert [m["kind"] for m in new_mails] == ["relay"]  # to the next person; no reply to the notice
    assert new_mails[0]["recipient"] != expert.email


def test_automatic_replies_to_the_asker_address_are_ignored(relais):
    question_id = ask(relais).question_id
    [ack] = outbox(relais, "acknowledgement", ALICE)
    raw = fixture("ooo_outlook_en.eml", FROM=ALICE, TO=reply_address(ack), MESSAGE_ID="o@x",
                  IN_REPLY_TO=ack["message_id"].strip("<>"))
    result = relais.email_in.ingest(raw, ALICE, [reply_address(ack)])
    assert result.outcome == "ignored" and "automatic reply" in result.reason
    assert "out of the office" not in relais.questions.get(question_id).body


@pytest.mark.parametrize("raw, envelope_from, reason", [
    (build_mail(headers={"X-Relais-Kind": "relay"}), ALICE, "loop prevented"),
    (build_mail(sender=f"Relais <relais@{MAIL_HOST}>"), f"relais@{MAIL_HOST}", "loop prevented"),
    (build_mail(), "<>", "bounce"),
    (build_mail(), "", "bounce"),
])
def test_our_own_mails_and_bounces_are_ignored(relais, raw, envelope_from, reason):
    result = relais.email_in.ingest(raw, envelope_from, [ASK])
    assert result.outcome == "ignored" and reason in result.reason
    assert outbox(relais) == []


@pytest.mark.parametrize("mail, verdicts, reason", [
    ({}, {"spamVerdict": {"status": "FAIL"}, "virusVerdict": {"status": "PASS"}},
     "spamVerdict FAIL"),
    ({}, {"dkimVerdict": {"status": "FAIL"}, "dmarcVerdict": {"status": "FAIL"}},
     "dkimVerdict FAIL, dmarcVerdict FAIL"),
    ({"sender": "alice.martin@evil.example"}, None, "sender domain not allowed: evil.example"),
    ({"sender": "stranger@acme.example"}, None, "not an active employee"),
    ({"sender": "old.timer@acme.example"}, None, "not an active employee"),
    ({"sender": "undisclosed-recipients:;"}, None, "no readable From address"),
    ({"to": "someone@acme.example"}, None, "not addressed to a Relais address"),
    ({"to": f"reply+aaaaaaaaaaaaaaaaaaaaaaaa@{MAIL_HOST}"}, None, "unknown reply address"),
])
def test_untrusted_or_unusable_mail_goes_to_the_quarantine(relais, tmp_path, mail, verdicts,
                                                          reason):
    raw = build_mail(**mail)
    to = mail.get("to", ASK)
    result = relais.email_in.ingest(raw, ALICE if "sender" not in mail else None, [to],
                                    verdicts)
    assert result.outcome == "quarantined" and reason in result.reason, result
    assert (tmp_path / "mail" / result.stored).read_bytes() == raw
    assert result.stored.startswith("quarantine/new/")
    assert outbox(relais) == []  # no reply to an untrusted mail: no backscatter
    page = relais.email_in.inbound_log(outcome="quarantined", limit=10, cursor=None)
    assert [r["reason"] for r in page.items] == [result.reason]


def test_switched_off_modules_keep_mail_out(relais):
    caller = Caller("admin", "admin")
    relais.modules.change(caller, {"anonymous": False}, None)
    result = relais.email_in.ingest(build_mail(subject="[anonymous] Salaries?"), ALICE, [ASK])
    assert result.outcome == "quarantined" and "anonymous questions are switched off" \
        in result.reason
    [notice] = outbox(relais)  # the asker learns that nothing was asked
    assert notice["kind"] == "not_used" and "anonymous questions are switched off" \
        in notice["text"]
    relais.modules.change(caller, {"email": False}, None)
    result = relais.email_in.ingest(build_mail(), ALICE, [ASK])
    assert (result.outcome, result.reason) == ("quarantined", "the email module is switched off")
    assert outbox(relais) == [notice]


def test_a_reply_from_someone_else_than_the_addressee_is_refused(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    other = relais.profile_store.get("vpn4")
    result = reply(relais, mail, other)
    assert result.outcome == "quarantined" and "belongs to someone else" in result.reason
    assert relais.questions.answers(question_id) == []


def test_a_reply_with_only_quoted_text_or_to_a_closed_question_is_refused(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    raw = build_mail(sender=expert.email, to=reply_address(mail), subject="Re: x",
                     text="On Mon, Jan 5, 2026 at 10:00 AM Relais <x@y> wrote:\n> Hello\n",
                     message_id="<empty@acme.example>")
    result = relais.email_in.ingest(raw, expert.email, [reply_address(mail)])
    assert result.outcome == "quarantined" and "no text of its own" in result.reason
    relais.questions.close(Caller("asker"), question_id)
    result = reply(relais, mail, expert)
    assert result.outcome == "quarantined" and "closed" in result.reason
    # The expert is told each time, in the thread, so that nobody believes they answered.
    empty, closed = outbox(relais, "not_used", expert.email)
    assert "Relais could not use your mail \"Re: x\"" in empty["text"]
    assert "no text of its own" in empty["text"] and "Nothing was changed." in empty["text"]
    assert empty["headers"]["In-Reply-To"] == "<empty@acme.example>"
    assert empty["headers"]["Auto-Submitted"] == "auto-replied"
    assert "closed" in closed["text"] and f"/questions/{question_id}" in closed["text"]
    assert relais.questions.answers(question_id) == []


def test_an_employee_whose_mail_cannot_become_a_question_is_told_why(relais):
    result = relais.email_in.ingest(build_mail(subject="", text="", message_id="<e@acme.example>"),
                                    ALICE, [ASK])
    assert result.outcome == "quarantined" and "neither a subject nor text" in result.reason
    assert result.stored.startswith("quarantine/new/")
    [notice] = outbox(relais, "not_used", ALICE)
    assert "neither a subject nor text to ask" in notice["text"]
    assert notice["headers"]["In-Reply-To"] == "<e@acme.example>"
    assert outbox(relais, "acknowledgement") == []


def test_the_same_message_id_twice_makes_one_question(relais):
    raw = build_mail(message_id="<twice@acme.example>")
    first = relais.email_in.ingest(raw, ALICE, [ASK])
    again = relais.email_in.ingest(raw, ALICE, [ASK])
    edited = relais.email_in.ingest(build_mail(message_id="<twice@acme.example>",
                                               subject="Other words"), ALICE, [ASK])
    assert first.outcome == "question"
    assert (again.outcome, again.question_id) == ("duplicate", first.question_id)
    assert (edited.outcome, edited.question_id) == ("duplicate", first.question_id)
    assert relais.question_store.list_questions(limit=10).items == \
        [relais.questions.get(first.question_id)]
    assert len(outbox(relais, "acknowledgement")) == 1


def test_a_message_left_half_done_is_taken_up_again_after_a_while(relais, clock):
    raw = build_mail(message_id="<crashed@acme.example>")
    now = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert relais.mail_ledger.claim_inbound(
        InboundRecord("<crashed@acme.example>", now, now), now) is None  # a process died here
    assert relais.email_in.ingest(raw, ALICE, [ASK]).outcome == "busy"
    clock.advance(minutes=10)
    result = relais.email_in.ingest(raw, ALICE, [ASK])
    assert result.outcome == "question"


def test_an_unparseable_mail_is_kept_in_the_quarantine_with_its_reason(relais, tmp_path):
    raw = b"\x00\x01garbage without headers\xff" * 10
    result = relais.email_in.ingest(raw, ALICE, [ASK])
    assert (result.outcome, result.reason) == ("quarantined", "no header fields")
    assert (tmp_path / "mail" / result.stored).read_bytes() == raw


def test_a_bug_while_processing_quarantines_the_mail_instead_of_raising(relais, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")
    monkeypatch.setattr(relais.questions, "ask", broken)
    result = relais.email_in.ingest(build_mail(), ALICE, [ASK])
    assert (result.outcome, result.reason) == ("quarantined", "internal error (RuntimeError)")


def test_a_broken_store_asks_for_the_mail_again_later(relais, monkeypatch):
    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")
    monkeypatch.setattr(relais.mail_ledger, "claim_inbound", locked)
    result = relais.email_in.ingest(build_mail(), ALICE, [ASK])
    assert result.outcome == "failed" and result.retry_later


def test_a_mail_that_could_not_be_kept_can_be_delivered_again_at_once(relais, monkeypatch):
    keep = relais.email_in.raw_store.keep

    def full(*args):
        raise OSError("No space left on device")
    monkeypatch.setattr(relais.email_in.raw_store, "keep", full)
    raw = build_mail()
    assert relais.email_in.ingest(raw, ALICE, [ASK]).outcome == "failed"
    monkeypatch.setattr(relais.email_in.raw_store, "keep", keep)
    assert relais.email_in.ingest(raw, ALICE, [ASK]).outcome == "question"


def test_daily_readers_get_one_digest_instead_of_mails(relais):
    for expert_id in ("vpn1", "vpn2", "vpn3", "vpn4"):
        person = relais.profile_store.get(expert_id)
        relais.profile_store.update(person.replace(notify="daily"))
    first = ask(relais, subject="VPN on Linux?").question_id
    second = ask(relais, subject="VPN firewall rules for Linux?").question_id
    assert outbox(relais, "relay") == []
    counts = relais.notifier.send_digests()
    assert counts["items"] == 4 and counts["people"] >= 2
    digests = outbox(relais, "digest")
    assert len(digests) == counts["people"]
    text = "".join(m["text"] for m in digests)
    assert first in text and second in text
    assert "To reply by mail, write to reply+" in text
    assert relais.notifier.send_digests() == {"people": 0, "items": 0}
    # A reply to the address given in the digest is an answer like any other.
    relay = relais.question_store.relays_for_question(first)[0]
    expert = relais.profile_store.get(relay.expert_id)
    address = relais.mail_ledger.reply_address(first, expert.id, "expert")
    to = f"reply+{address.token}@{MAIL_HOST}"
    raw = build_mail(sender=expert.email, to=to, subject="Re: digest", text="Use Corp-2.")
    assert relais.email_in.ingest(raw, expert.email, [to]).outcome == "answer"


def test_a_mail_service_that_refuses_loses_nothing_and_undoes_nothing(relais, monkeypatch):
    send = relais.notifier.mailer.send

    def refuse(**mail):
        raise MailNotSent("SES refused the mail: MessageRejected: Email address is not verified.")
    monkeypatch.setattr(relais.notifier.mailer, "send", refuse)
    question_id = ask(relais).question_id  # asked, and relayed, whatever the mails
    relays = relais.question_store.relays_for_question(question_id)
    assert relays and all(r.state == "notified" for r in relays)
    assert outbox(relais, "relay") == []
    # A digest that could not go stays held, and goes with the next run.
    for relay in relays:
        expert = relais.profile_store.get(relay.expert_id)
        relais.profile_store.update(expert.replace(notify="daily"))
    relais.notifier.relayed(relais.questions.get(question_id), relays[0])
    assert relais.notifier.send_digests() == {"people": 0, "items": 0}
    monkeypatch.setattr(relais.notifier.mailer, "send", send)
    assert relais.notifier.send_digests() == {"people": 1, "items": 1}
    assert len(outbox(relais, "digest")) == 1


def test_every_mail_about_a_question_threads_under_the_previous_one(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    relais.notifier.added(relais.questions.get(question_id), "More details.", [expert.id])
    [addition] = outbox(relais, "addition", expert.email)
    assert addition["headers"]["In-Reply-To"] == mail["message_id"]
    assert addition["headers"]["References"] == mail["message_id"]
    assert reply_address(addition) == reply_address(mail)  # one address per person and question


def test_raw_messages_are_kept_in_a_maildir(relais, tmp_path):
    result = ask(relais)
    root = Path(tmp_path / "mail")
    assert (root / result.stored).parent == root / "inbox" / "new"
    assert list((root / "inbox" / "tmp").iterdir()) == []
