"""Reading inbound mail: limits, charsets, HTML, replies of real clients, automatic replies."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.mailparse import (Limits, MailError, html_to_text, message_key, parse,
                                  ses_verdicts, unflow)
from chalicelib.mailtext import (ReplyCommand, auto_reply_reason, away_until,
                                 question_from_subject, reply_command, reply_text, signature_free)
from tests.email_kit import build_mail, fixture

EXPERT = "marie.curie@acme.example"
REPLY_TO = "reply+abcdefghijklmnop@relais.example.com"
TODAY = date(2026, 1, 5)

ANSWER_EN = 'Use the "Corp-2" profile in the VPN client, then restart the network agent.'
ANSWER_FR = "Il faut choisir le profil « Corp-2 » dans le client VPN, puis redémarrer " \
            "l'agent réseau."


def read(name: str):
    return parse(fixture(name, FROM=EXPERT, TO=REPLY_TO, MESSAGE_ID="m1@acme.example",
                         IN_REPLY_TO="r1@relais.example.com"))


@pytest.mark.parametrize("name, expected", [
    ("reply_outlook_en.eml", 'Hi,\n\n' + ANSWER_EN[:-1] + ":\n- sudo systemctl restart corp-vpn"
                             "\n- log in with your badge PIN"),
    ("reply_outlook_fr.eml", "Bonjour,\n\n" + ANSWER_FR),
    ("reply_gmail_en.eml", ANSWER_EN),
    ("reply_gmail_fr.eml", ANSWER_FR),
    ("reply_apple_en.eml", ANSWER_EN.replace('"Corp-2"', "“Corp-2”")),
    ("reply_apple_fr.eml", ANSWER_FR),
    ("reply_thunderbird_en.eml", ANSWER_EN),  # written below the quote
    ("reply_thunderbird_fr.eml", ANSWER_FR),
    ("reply_outlook_html_only.eml", "Use the “Corp-2” profile & restart the agent:\n\n"
                                    "- sudo systemctl restart corp-vpn\n"
                                    "- see the wiki <https://wiki.acme.example/vpn>"),
])
def test_a_reply_keeps_only_the_authors_words(name, expected):
    mail = read(name)
    assert mail.sender == EXPERT
    assert reply_text(mail.text) == expected
    assert auto_reply_reason(mail) == ""


@pytest.mark.parametrize("name, reason, until", [
    ("ooo_outlook_en.eml", "Auto-Submitted: auto-replied", date(2026, 1, 19)),
    ("ooo_outlook_fr.eml", "Auto-Submitted: auto-generated", date(2026, 1, 16)),
    ("ooo_gmail_en.eml", "Auto-Submitted: auto-replied", date(2026, 1, 21)),
    ("ooo_subject_only_fr.eml", "out-of-office subject", date(2026, 1, 20)),
    ("ooo_xautoreply.eml", "x-autoreply header", None),
])
def test_out_of_office_replies_are_recognised_with_their_return_date(name, reason, until):
    mail = read(name)
    assert auto_reply_reason(mail) == reason
    assert away_until(reply_text(mail.text) or mail.text, TODAY) == until


@pytest.mark.parametrize("subject", [
    "Out of Office: [Relais] question", "Automatic reply: hello", "RE: Out of office",
    "Réponse automatique : [Relais] Une question", "Absence du bureau", "Absent",
    "Absente jusqu'au 12 janvier", "Auto-Reply: away", "Message d'absence",
])
def test_out_of_office_subjects_in_english_and_french(subject):
    assert auto_reply_reason(parse(build_mail(subject=subject))) == "out-of-office subject"


def test_a_question_titled_like_an_absence_is_not_an_auto_reply_when_subjects_are_not_read():
    mail = parse(build_mail(subject="Absent days: how are they counted?"))
    assert auto_reply_reason(mail, by_subject=False) == ""


@pytest.mark.parametrize("headers, expected", [
    ({"Auto-Submitted": "no"}, ""),
    ({"Auto-Submitted": "auto-generated; owner-email=x@y"}, "Auto-Submitted: auto-generated"),
    ({"X-Autorespond": "1"}, "x-autorespond header"),
    ({"Precedence": "bulk"}, "Precedence: bulk"),
    ({"Precedence": "junk"}, "Precedence: junk"),
    ({"Precedence": "list"}, ""),
])
def test_auto_reply_headers(headers, expected):
    assert auto_reply_reason(parse(build_mail(subject="Hello", headers=headers))) == expected


@pytest.mark.parametrize("text, expected", [
    ("I am away until 12 January 2026.", date(2026, 1, 12)),
    ("Back on January 14th.", date(2026, 1, 14)),
    ("Out until Jan. 9, back Monday Jan 12", date(2026, 1, 12)),
    ("returning on 2026-02-02", date(2026, 2, 2)),
    ("Je serai de retour le 1er février.", date(2026, 2, 1)),
    ("absent jusqu'au lundi 12 janvier inclus", date(2026, 1, 12)),
    ("De retour le 15/01/2026", date(2026, 1, 15)),
    ("back 01/31", date(2026, 1, 31)),  # only month-first makes sense
    ("absente du 2 au 9 janvier", date(2026, 1, 9)),
    ("Tél. 01.23.45.67.89, back soon", None),  # a phone number is not a date
    ("back on 12 January 2031", None),  # too far to be a return date
    ("no date at all", None),
])
def test_return_dates_in_english_and_french(text, expected):
    assert away_until(text, TODAY) == expected


def test_a_date_without_a_year_is_the_next_one():
    assert away_until("du 20 décembre au 3 janvier", date(2025, 12, 22)) == date(2026, 1, 3)


def test_html_becomes_text_without_markup_or_scripts():
    mail = parse(fixture("question_html.eml", FROM="alice.martin@acme.example",
                         MESSAGE_ID="q@acme.example"))
    assert mail.from_html
    assert mail.subject == "Comment configurer le VPN sous Linux ?"
    assert "Le VPN refuse ma connexion depuis Linux — quel profil choisir ?" in mail.text
    assert "<script> is text here, not markup." in mail.text
    for hidden in ("alert", "steal", "ignored title", "color:red", "<p>", "onerror"):
        assert hidden not in mail.text


def test_html_to_text_handles_quotes_lists_and_links():
    text = html_to_text('<p>Yes.</p><blockquote>old<br>mail</blockquote><ul><li>a</li>'
                        '<li><a href="https://x.example/doc">doc</a></li></ul>'
                        '<a href="javascript:evil()">click</a>')
    assert text.split("\n")[0] == "Yes."
    assert "> old" in text and "> mail" in text
    assert "- doc <https://x.example/doc>" in text
    assert "javascript" not in text


def test_html_to_text_keeps_the_lines_of_preformatted_text():
    text = html_to_text("<p>Run:</p><pre><code>make run\nmake test</code></pre><p>one\ntwo</p>")
    assert text == "Run:\n\nmake run\nmake test\n\none two"


def test_html_to_text_is_cut_at_its_limit():
    assert len(html_to_text("<p>word</p>" * 100_000, max_chars=5_000)) <= 5_000


def test_latin1_question_with_signature_and_tag():
    mail = parse(fixture("question_fr_latin1.eml", FROM="alice.martin@acme.example",
                         MESSAGE_ID="q@acme.example"))
    assert question_from_subject(mail.subject) == ("Problème de VPN à Lyon", False, ["vpn"])
    body = signature_free(mail.text)
    assert body.endswith("Quelqu'un a-t-il déjà vu ça ?")
    assert "Ventes" not in body


@pytest.mark.parametrize("subject, expected", [
    ("Re: Fwd: TR: VPN help", ("VPN help", False, [])),
    ("[anonymous] Salary bands?", ("Salary bands?", True, [])),
    ("[Anonyme] Grille des salaires #rh", ("Grille des salaires", True, ["rh"])),
    ("x" * 400, ("x" * 299 + "…", False, [])),
])
def test_question_from_subject(subject, expected):
    assert question_from_subject(subject) == expected


@pytest.mark.parametrize("charset", ["x-unknown", "zlib_codec", "base64", "unicode_escape",
                                     "idna", "utf-16", "utf-7", "latin-1", ""])
def test_any_declared_charset_decodes_without_error(charset):
    raw = (b"From: a@acme.example\nTo: ask@relais.example.com\nSubject: s\n"
           b"Content-Type: text/plain; charset=\"" + charset.encode() + b"\"\n\n"
           b"caf\xe9 \\N{BULLET} \xff\xfe\x00")
    text = parse(raw).text
    if charset != "utf-16":  # read as UTF-16, these bytes are other (valid) characters
        assert "caf" in text and "\\N{BULLET}" in text and "\x00" not in text


def test_format_flowed_is_unwrapped():
    assert unflow("a long \nline\n> quoted \n> on two\n-- \nsig") == \
        "a long line\n> quoted on two\n-- \nsig"


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty message"),
    (b"no headers here at all", "no header fields"),
    (b"X: " + b"y" * 40_000 + b"\n\nbody", "a header field is over"),
    (b"".join(b"X-%d: y\n" % i for i in range(1_500)) + b"\nbody", "more than 1000 header"),
])
def test_malformed_messages_are_refused_with_a_reason(raw, reason):
    with pytest.raises(MailError) as err:
        parse(raw)
    assert reason in err.value.reason


def nested(depth: int) -> bytes:
    head = b"From: a@acme.example\nTo: ask@relais.example.com\nSubject: deep\nMIME-Version: 1.0\n"
    body = b"Content-Type: text/plain\n\nbottom\n"
    for level in range(depth):
        boundary = b"b%d" % level
        body = (b"Content-Type: multipart/mixed; boundary=" + boundary + b"\n\n--" + boundary
                + b"\n" + body + b"\n--" + boundary + b"--\n")
    return head + body


def test_mime_nesting_and_part_counts_are_bounded():
    assert parse(nested(5)).text == "bottom"
    with pytest.raises(MailError, match="nesting deeper than 12"):
        parse(nested(20))
    with pytest.raises(MailError, match="more than 200 MIME parts"):
        parse(nested(400))


def test_size_limit():
    with pytest.raises(MailError, match="over 1000 bytes"):
        parse(build_mail(text="x" * 2000), Limits(max_bytes=1000))


def test_decoded_text_is_bounded():
    mail = parse(build_mail(text="y" * 50_000), Limits(max_text_bytes=10_000))
    assert len(mail.text) == 10_000


def test_message_key_is_the_message_id_or_a_digest():
    assert message_key(build_mail(message_id="<abc@x>")) == "<abc@x>"
    assert message_key(b"Message-Id:\n <folded@x>\n\nbody") == "<folded@x>"
    digest = message_key(b"Subject: no id\n\nbody")
    assert digest.endswith("@digest.relais.invalid>")
    assert digest == message_key(b"Subject: no id\n\nbody")


def test_ses_verdicts_come_from_the_topmost_ses_headers():
    raw = (b"X-SES-Spam-Verdict: FAIL\nX-SES-Virus-Verdict: PASS\n"
           b"Authentication-Results: amazonses.com; spf=pass; dkim=fail; dmarc=pass\n"
           b"X-SES-Spam-Verdict: PASS\n" + build_mail())
    verdicts = ses_verdicts(parse(raw).headers)
    assert verdicts == {"spamVerdict": {"status": "FAIL"}, "virusVerdict": {"status": "PASS"},
                        "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "FAIL"},
                        "dmarcVerdict": {"status": "PASS"}}


@pytest.mark.parametrize("text, expected", [
    ("decline", ReplyCommand("decline")),
    ("Not for me.", ReplyCommand("decline")),
    ("Bonjour,\n\nPas pour moi !", ReplyCommand("decline")),
    ("Je décline", ReplyCommand("decline")),
    ("snooze", ReplyCommand("snooze", hours=24.0)),
    ("Snooze 3 days", ReplyCommand("snooze", hours=72.0)),
    ("snooze for 12h", ReplyCommand("snooze", hours=12.0)),
    ("Plus tard 2 jours", ReplyCommand("snooze", hours=48.0)),
    ("later 1 week", ReplyCommand("snooze", hours=168.0)),
    ("Hi Relais,\npass to Bruno Bridge <Bruno.Bridge@acme.example>\nHe wrote the tool.\n\nThanks",
     ReplyCommand("pass", address="bruno.bridge@acme.example",
                  note="He wrote the tool.\n\nThanks")),
    ("Please pass it on to bruno@acme.example", ReplyCommand("pass", address="bruno@acme.example")),
    ("Transmettre à bruno@acme.example <mailto:bruno@acme.example>",
     ReplyCommand("pass", address="bruno@acme.example")),
    ("pass to  Bruno Bridge.", ReplyCommand("pass", name="Bruno Bridge")),
])
def test_a_reply_can_decline_snooze_or_pass_the_question_on(text, expected):
    assert reply_command(text) == expected


@pytest.mark.parametrize("text", [
    "No", "No, the VPN does not support Linux.", "Later versions fix it.",
    "Decline the invitation in the calendar, then accept the new one.",
    "Forward to the new server and restart the agent.",
    "Hello,\n\nUse the Corp-2 profile.", "Snooze the alarm for 10 minutes in the console",
    "",
])
def test_an_answer_is_never_taken_for_a_command(text):
    assert reply_command(text) is None
