"""Replying to a relay mail with one line instead of an answer: decline, snooze, or pass the
question to a colleague (a hand-off, or an invitation from someone it was not relayed to).
What cannot be done is refused, changes nothing, and the sender is told why."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.auth import Caller
from chalicelib.clock import iso
from chalicelib.schemas import ProfilePatch
from tests.email_kit import (ALICE, ask, build_mail, fixture, make_relais, outbox, relay_mail,
                             reply_address)


@pytest.fixture
def relais(tmp_path, clock):
    """The seeded organisation of tests.email_kit, with mail (`clock` is conftest's)."""
    return make_relais(tmp_path, clock=clock)


def reply_with(relais, mail: dict, person, text: str, message_id: str):
    """`person` replies to `mail` with `text` above the quoted mail, as a mail client does."""
    to = reply_address(mail)
    raw = build_mail(sender=f"{person.name} <{person.email}>", to=to,
                     subject="Re: " + mail["subject"], message_id=message_id,
                     headers={"In-Reply-To": mail["message_id"]},
                     text=f"{text}\n\nOn Mon, Jan 5, 2026 at 10:00 AM Relais <{to}> wrote:\n"
                          f"> {mail['text'].splitlines()[0]}\n")
    return relais.email_in.ingest(raw, person.email, [to])


def not_relayed(relais, question_id: str) -> list:
    """The colleagues with a vpn skill the question was not relayed to."""
    relayed = {r.expert_id for r in relais.question_store.relays_for_question(question_id)}
    return [relais.profile_store.get(p) for p in ("vpn1", "vpn2", "vpn3", "vpn4")
            if p not in relayed]


def test_a_relay_mail_says_which_replies_it_takes(relais):
    mail, _ = relay_mail(relais, ask(relais).question_id)
    assert 'Or reply with one line instead: "decline", "snooze 3 days", or "pass to" a ' \
           "colleague's address" in mail["text"]


def test_declining_by_reply_passes_the_question_to_the_next_person(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    result = reply_with(relais, mail, expert, "Decline", "<d1@acme.example>")
    assert (result.outcome, result.question_id) == ("declined", question_id)
    assert relais.question_store.get_relay(question_id, expert.id).state == "declined"
    relays = relais.question_store.relays_for_question(question_id)
    assert [r.reason for r in relays].count("reroute") == 1
    assert relais.questions.answers(question_id) == []
    assert relais.mail_ledger.get_inbound("<d1@acme.example>").outcome == "declined"
    assert outbox(relais, "not_used") == []


@pytest.mark.parametrize("line, hours", [("snooze", 24), ("Snooze 3 days", 72),
                                         ("Plus tard 2 jours", 48), ("later 12h", 12)])
def test_snoozing_by_reply_sets_the_time_it_asks_for(relais, clock, line, hours):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    result = reply_with(relais, mail, expert, line, "<s1@acme.example>")
    assert result.outcome == "snoozed"
    relay = relais.question_store.get_relay(question_id, expert.id)
    assert relay.state == "snoozed"
    assert relay.snoozed_until == iso(clock.now() + timedelta(hours=hours))
    assert relais.questions.answers(question_id) == []


def test_passing_on_by_reply_hands_the_question_to_the_colleague_with_the_note(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    colleague = not_relayed(relais, question_id)[0]
    result = reply_with(relais, mail, expert,
                        f"Hello,\npass to {colleague.name} <{colleague.email.upper()}>\n"
                        "She set up the Linux profile last month.", "<p1@acme.example>")
    assert (result.outcome, result.reason) == ("passed_on", f"to {colleague.id}")
    assert relais.question_store.get_relay(question_id, expert.id).state == "declined"
    handed = relais.question_store.get_relay(question_id, colleague.id)
    assert (handed.reason, handed.invited_by) == ("handoff", expert.id)
    assert handed.note == "She set up the Linux profile last month."
    # In place of the next match: nobody else got the question.
    assert [r.reason for r in relais.question_store.relays_for_question(question_id)] \
        .count("reroute") == 0
    [relayed] = [m for m in outbox(relais, "relay", colleague.email) if question_id in m["text"]]
    assert f"{expert.name} was asked and passed it to you" in relayed["text"]
    assert "She set up the Linux profile last month." in relayed["text"]
    assert relais.questions.answers(question_id) == []


def test_a_colleague_can_be_named_when_only_one_has_that_name(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    colleague = not_relayed(relais, question_id)[0]
    result = reply_with(relais, mail, expert, f"pass to {colleague.name.upper()}",
                        "<n1@acme.example>")
    assert (result.outcome, result.reason) == ("passed_on", f"to {colleague.id}")
    # Two colleagues with one name: the reply must say which, by address.
    report = relais.hr_sync.upsert([{"id": "namesake", "name": colleague.name,
                                     "email": "namesake@acme.example", "skills": ["vpn"]}])
    assert report["counts"]["error"] == 0
    other, second = relay_mail(relais, question_id, rank=1)
    result = reply_with(relais, other, second, f"pass to {colleague.name}", "<n2@acme.example>")
    assert result.outcome == "quarantined"
    assert f"2 colleagues are called {colleague.name}: write their mail address" in result.reason
    assert relais.question_store.get_relay(question_id, "namesake") is None


def test_passing_on_works_from_a_real_mail_client_in_french(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    colleague = not_relayed(relais, question_id)[0]
    raw = fixture("reply_outlook_fr.eml", FROM=expert.email, TO=reply_address(mail),
                  MESSAGE_ID="fr-pass@acme.example",
                  IN_REPLY_TO=mail["message_id"].strip("<>"))
    answer = (b"Il faut choisir le profil =AB=A0Corp-2=A0=BB dans le client VPN, puis red=\n"
              b"=E9marrer l'agent r=E9seau.")
    assert answer in raw
    raw = raw.replace(answer, f"Transmettre =E0 {colleague.email}\nElle conna=EEt ce client."
                      .encode())
    result = relais.email_in.ingest(raw, expert.email, [reply_address(mail)])
    assert result.outcome == "passed_on", result
    handed = relais.question_store.get_relay(question_id, colleague.id)
    # The signature below the note is not part of it.
    assert (handed.reason, handed.note) == ("handoff", "Elle connaît ce client.")


def test_pass_to_from_someone_it_was_not_relayed_to_invites_the_colleague(relais):
    for person in ("vpn1", "vpn2", "vpn3", "vpn4"):
        relais.profiles.edit(Caller(person), person, ProfilePatch(watched_tags=["vpn"]))
    question_id = ask(relais, subject="How do I set up the VPN on Linux? #vpn").question_id
    watcher, colleague = not_relayed(relais, question_id)
    [mail] = [m for m in outbox(relais, "watch", watcher.email) if question_id in m["text"]]
    result = reply_with(relais, mail, watcher, f"pass to {colleague.email}",
                        "<w1@acme.example>")
    assert (result.outcome, result.reason) == ("invited", colleague.id)
    invited = relais.question_store.get_relay(question_id, colleague.id)
    assert (invited.reason, invited.invited_by) == ("invited", watcher.id)


def test_the_asker_can_invite_a_colleague_by_replying_to_the_acknowledgement(relais):
    question_id = ask(relais).question_id
    [ack] = outbox(relais, "acknowledgement", ALICE)
    colleague = not_relayed(relais, question_id)[0]
    asker = relais.profile_store.get("asker")
    result = reply_with(relais, ack, asker, f"Pass to {colleague.email}\nYou fixed mine.",
                        "<a1@acme.example>")
    assert result.outcome == "invited"
    invited = relais.question_store.get_relay(question_id, colleague.id)
    assert (invited.invited_by, invited.note) == ("asker", "You fixed mine.")
    assert "Pass to" not in relais.questions.get(question_id).body  # not an addition


@pytest.mark.parametrize("line, reason", [
    ("pass to Bruno", "no colleague is called Bruno: write their mail address"),
    ("pass to nobody@acme.example", "no colleague has the address nobody@acme.example"),
    ("pass to {asker}", "they asked this question"),
    ("pass to {self}", "you cannot invite yourself"),
    ("pass to {other_expert}", "this question was already relayed to them"),
    ("pass to {away}", "they are away until 2026-12-31"),
    ("snooze 30 days", "a question can be snoozed for 14 days at most"),
    ("snooze 0 days", "an hour at least"),
])
def test_a_command_that_cannot_be_done_changes_nothing_and_the_sender_is_told(relais, line,
                                                                             reason):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    other_expert = relay_mail(relais, question_id, rank=1)[1]
    away = not_relayed(relais, question_id)[0]
    relais.profiles.edit(Caller(away.id), away.id, ProfilePatch(away_until="2026-12-31"))
    line = line.format(asker=ALICE, self=expert.email, other_expert=other_expert.email,
                       away=away.email)
    before = relais.question_store.relays_for_question(question_id)
    result = reply_with(relais, mail, expert, line, "<x1@acme.example>")
    assert result.outcome == "quarantined" and reason in result.reason, result
    assert relais.question_store.relays_for_question(question_id) == before
    assert relais.questions.answers(question_id) == []
    [notice] = outbox(relais, "not_used", expert.email)
    assert reason in notice["text"] and "Nothing was changed." in notice["text"]
    assert notice["headers"]["In-Reply-To"] == "<x1@acme.example>"
    assert "person_id" not in notice["text"]  # the API's field names are not for a mail


def test_declining_twice_is_refused_the_second_time(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    assert reply_with(relais, mail, expert, "decline", "<t1@acme.example>").outcome == "declined"
    again = reply_with(relais, mail, expert, "Not for me", "<t2@acme.example>")
    assert again.outcome == "quarantined" and "this relay is already declined" in again.reason
    [notice] = outbox(relais, "not_used", expert.email)
    assert "the decline was refused (this relay is already declined)" in notice["text"]


def test_a_watcher_cannot_decline_what_was_not_relayed_to_them(relais):
    relais.profiles.edit(Caller("vpn4"), "vpn4", ProfilePatch(watched_tags=["vpn"]))
    relais.profiles.edit(Caller("vpn4"), "vpn4", ProfilePatch(routing_opt_out=True))
    question_id = ask(relais, subject="How do I set up the VPN on Linux? #vpn").question_id
    watcher = relais.profile_store.get("vpn4")
    [mail] = outbox(relais, "watch", watcher.email)
    result = reply_with(relais, mail, watcher, "decline", "<n1@acme.example>")
    assert result.outcome == "quarantined"
    assert "this question was not relayed to you" in result.reason
    assert relais.question_store.get_relay(question_id, watcher.id) is None


def test_an_answer_that_starts_like_a_command_is_an_answer(relais):
    question_id = ask(relais).question_id
    mail, expert = relay_mail(relais, question_id)
    result = reply_with(relais, mail, expert, "Later versions of the client fix it: update to 5.2.",
                        "<l1@acme.example>")
    assert result.outcome == "answer"
    [answer] = relais.questions.answers(question_id)
    assert answer.body == "Later versions of the client fix it: update to 5.2."
