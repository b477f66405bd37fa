"""What a mail's words mean to Relais: the reply without its quote and signature, whether it
is an automatic reply, until when its author is away, a question title from a subject, and
the command a reply gives instead of an answer.

English and French, the languages of the mail clients Relais is tested with (Outlook, Gmail,
Apple Mail, Thunderbird). Every function here is pure and bounded in the text it reads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from mailparser_reply.parser import EmailMessage

from .mailparse import ParsedMail

LANGUAGES = ["en", "fr"]
MAX_REPLY_CHARS = 100_000  # the reply parser's regexes read at most this much
MAX_AWAY_TEXT = 4_000  # out-of-office notices state their date near the top

# Quote attributions a client writes above the quoted mail, possibly wrapped over 2-3 lines.
ATTRIBUTION_START = re.compile(r"^(?:>\s?)*(?:On|Le)\s\S", re.IGNORECASE)
ATTRIBUTION_END = re.compile(r"(?:wrote|a\s+[ée]crit)\s*:\s*$", re.IGNORECASE)
SENT_FROM = re.compile(
    r"^(?:Sent from my|Sent from Mail for|Get Outlook for|Envoy[ée] de mon|Envoy[ée] depuis|"
    r"Obtenir Outlook pour|T[ée]l[ée]charger Outlook pour)\b.*$", re.IGNORECASE)


def reply_text(text: str) -> str:
    """The author's own words in a reply: the quoted mail, the attribution line above it and the
    signature removed (by mail-parser-reply, with fallbacks for French clients it misses)."""
    text = _join_wrapped_attributions(text[:MAX_REPLY_CHARS].replace("\r\n", "\n"))
    try:
        message = EmailMessage(text=text, languages=list(LANGUAGES),
                               keep_hyphen_lists=True).read()
        latest = message.replies[0].body if message.replies else text
    except Exception:  # a third-party parser on hostile text: fall back to our own cuts
        latest = text
    return _strip_leftovers(latest)


def _join_wrapped_attributions(text: str) -> str:
    """Gmail wraps "Le lun. 5 janv. 2026 à 10:00, X <x@y> a\\nécrit :" over lines; the parser
    only recognises it on one line."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if ATTRIBUTION_START.match(line) and not ATTRIBUTION_END.search(line):
            for span in (2, 3):
                joined = " ".join(part.strip() for part in lines[i:i + span])
                if i + span <= len(lines) and len(joined) < 400 and ATTRIBUTION_END.search(joined):
                    out.append(joined)
                    i += span
                    break
            else:
                out.append(line)
                i += 1
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _strip_leftovers(text: str) -> str:
    lines = text.strip().split("\n")
    # Anything from an attribution line on is the quoted mail, unless the reply is written
    # below the quote (Thunderbird's default): then only the quote itself goes.
    for index, line in enumerate(lines):
        if index > 0 and _is_attribution(line):
            lines = lines[:index]
            break
    lines = [line for line in lines
             if not line.lstrip().startswith(">") and not _is_attribution(line)]
    while lines and (not lines[-1].strip() or SENT_FROM.match(lines[-1].strip())):
        lines.pop()
    if lines and lines[-1].strip() in ("--", "__"):
        lines.pop()
    text = "\n".join(lines).strip()
    if "\n-- \n" in f"\n{text}\n" or "\n--\n" in f"\n{text}\n":
        text = re.split(r"(?m)^-- ?$", text, maxsplit=1)[0].strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def _is_attribution(line: str) -> bool:
    return bool(ATTRIBUTION_START.match(line) and ATTRIBUTION_END.search(line))


def signature_free(text: str) -> str:
    """A new mail's text without its signature (after a `-- ` line or a closing formula)."""
    cleaned = reply_text(text)
    return cleaned or text.strip()


# Automatic replies ----------------------------------------------------------------------------
AUTO_SUBJECT = re.compile(
    r"^\s*(?:(?:re|tr|fw|fwd)\s*:\s*)?(?:\[[^\]]{0,40}\]\s*)?(?:"
    r"out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?reply|auto(?:matic)? response|"
    r"autoreply|away from (?:the )?office|on (?:vacation|holiday|leave)|vacation reply|"
    r"r[ée]ponse automatique|absence du bureau|absente?\b|message d'absence|"
    r"en (?:cong[ée]s?|vacances)|hors du bureau)", re.IGNORECASE)
AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk"}


def auto_reply_reason(mail: ParsedMail, *, by_subject: bool = True) -> str:
    """Why `mail` is an automatic reply (RFC 3834 headers, vendor headers, out-of-office
    subjects in English and French), or "" for a mail a person wrote. `by_subject` is off for
    new questions: a question may well be titled "Absent days policy"."""
    submitted = mail.header("auto-submitted").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted[:40]}"
    for name in ("x-autoreply", "x-autorespond"):
        if mail.header(name):
            return f"{name} header"
    precedence = mail.header("precedence").strip().lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if by_subject and AUTO_SUBJECT.match(mail.subject[:300]):
        return "out-of-office subject"
    return ""


def is_delivery_report(mail: ParsedMail) -> bool:
    return mail.content_type in ("multipart/report", "message/delivery-status")


# Return dates in out-of-office notices ----------------------------------------------------------
MONTHS = {
    "january": 1, "jan": 1, "janvier": 1, "janv": 1,
    "february": 2, "feb": 2, "février": 2, "fevrier": 2, "févr": 2, "fevr": 2, "fév": 2,
    "march": 3, "mar": 3, "mars": 3,
    "april": 4, "apr": 4, "avril": 4, "avr": 4,
    "may": 5, "mai": 5,
    "june": 6, "jun": 6, "juin": 6,
    "july": 7, "jul": 7, "juillet": 7, "juil": 7,
    "august": 8, "aug": 8, "août": 8, "aout": 8,
    "september": 9, "sep": 9, "sept": 9, "septembre": 9,
    "october": 10, "oct": 10, "octobre": 10,
    "november": 11, "nov": 11, "novembre": 11,
    "december": 12, "dec": 12, "décembre": 12, "decembre": 12, "déc": 12,
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|er|e)?"
_YEAR = r"(?:,?\s+(?P<year>20\d\d))?"
DATE_PATTERNS = [
    # 2026-01-12
    re.compile(r"\b(?P<year>20\d\d)-(?P<month>[01]?\d)-(?P<day>[0-3]?\d)\b"),
    # 12 January 2026, 1er février, 12th of Jan
    re.compile(rf"\b{_DAY}\.?\s+(?:of\s+)?(?P<mname>{_MONTH})\.?{_YEAR}\b", re.IGNORECASE),
    # January 12th, 2026
    re.compile(rf"\b(?P<mname>{_MONTH})\.?\s+{_DAY}\b{_YEAR}", re.IGNORECASE),
    # 12/01/2026, 12.01.26, 12/01 (day first, as written in France and most of Europe)
    # (not inside a longer dotted run such as the phone number 01.23.45.67.89)
    re.compile(r"(?<![\d./])(?P<day>[0-3]?\d)[/.](?P<month>[0-3]?\d)"
               r"(?:[/.](?P<year>(?:20)?\d\d))?(?![\d]|[./]\d)"),
]
AWAY_HORIZON_DAYS = 180  # a date further out is more likely a phone number than a return


def away_until(text: str, today: date) -> date | None:
    """The last plausible date (today up to six months ahead) stated in an out-of-office
    text: "until 12 January", "back on Jan 12th", "jusqu'au 1er février", "de retour le
    12/01/2026". Numeric dates are read day first unless only month first makes sense."""
    text = text[:MAX_AWAY_TEXT]
    found: list[date] = []
    for pattern in DATE_PATTERNS:
        for match in pattern.finditer(text):
            moment = _to_date(match.groupdict(), today)
            if moment is not None and today <= moment <= today + timedelta(AWAY_HORIZON_DAYS):
                found.append(moment)
    return max(found) if found else None


def _to_date(parts: dict, today: date) -> date | None:
    try:
        day = int(parts["day"])
        if parts.get("mname"):
            month = MONTHS[parts["mname"].lower()]
        else:
            month = int(parts["month"])
            if month > 12 and day <= 12:
                day, month = month, day
        year = parts.get("year")
        if year:
            year = int(year) + (2000 if len(year) == 2 else 0)
            return date(year, month, day)
        moment = date(today.year, month, day)
        # A date without a year that has passed this year means next year's.
        return moment if moment >= today else date(today.year + 1, month, day)
    except (ValueError, KeyError, TypeError):
        return None


# Subjects -----------------------------------------------------------------------------------
SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|tr|réf|ref|aw|wg)\s*(?:\[\d+\])?\s*:\s*)+",
                            re.IGNORECASE)
ANONYMOUS_MARK = re.compile(r"\[(?:anonymous|anonyme|anon)\]\s*", re.IGNORECASE)
HASHTAG = re.compile(r"(?:^|\s)#([^\s,#]{1,50})")
MAX_TITLE = 300


def question_from_subject(subject: str) -> tuple[str, bool, list[str]]:
    """(title, anonymous, tags) from a mail subject: reply/forward prefixes dropped,
    "[anonymous]" / "[anonyme]" asks anonymously, "#tag" words become tags."""
    title = SUBJECT_PREFIX.sub("", subject)
    anonymous = bool(ANONYMOUS_MARK.search(title))
    title = ANONYMOUS_MARK.sub("", title)
    tags = list(dict.fromkeys(t.lower() for t in HASHTAG.findall(title)))[:10]
    title = " ".join(HASHTAG.sub(" ", title).split()) if tags else " ".join(title.split())
    return shorten(title, MAX_TITLE), anonymous, tags


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut).rstrip() + "…"


# Commands in a reply ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplyCommand:
    """What a reply asks Relais to do instead of answering: `decline`, `snooze` (for `hours`)
    or `pass` (to the colleague at `address`, else the one called `name`, with `note` for
    them)."""

    action: str
    hours: float = 0.0
    address: str = ""
    name: str = ""
    note: str = ""


# A command is the whole first line of the reply, in English or French, so that an answer
# that merely starts with "No" or "Later" is never taken for one.
DECLINE_COMMAND = re.compile(
    r"^(?:decline|declined|i decline|not for me|d[ée]cliner?|je d[ée]cline|refuser?|"
    r"pas pour moi)$", re.IGNORECASE)
SNOOZE_COMMAND = re.compile(
    r"^(?:snooze|later|plus tard|reporter|rappel(?:le)?[- ]moi)"
    r"(?:\s+(?:for\s+|de\s+|pour\s+|dans\s+)?(?P<amount>\d{1,3})\s*(?P<unit>h|hours?|heures?|"
    r"d|days?|j|jours?|w|weeks?|semaines?))?$", re.IGNORECASE)
PASS_COMMAND = re.compile(
    r"^(?:please\s+|merci de\s+)?(?:pass(?:\s+it)?(?:\s+on)?|forward(?:\s+it)?|"
    r"hand(?:\s+it)?\s+(?:off|over)|transmets?|transmettre|transf[ée]rer?)"
    r"\s+(?:to|[àa])\s+(?P<who>.+)$", re.IGNORECASE)
ADDRESS = re.compile(r"[^\s<>()\[\]:;,\"']+@[^\s<>()\[\]:;,\"']+\.[a-z]{2,}", re.IGNORECASE)
# A greeting line above the command ("Hi,", "Bonjour Marie,") is not part of it.
GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|bonjour|salut|cher|ch[èe]re)\b[^,.!?]{0,40}[,.!]?$", re.IGNORECASE)
UNIT_HOURS = {"h": 1, "hour": 1, "heure": 1, "d": 24, "day": 24, "j": 24, "jour": 24,
              "w": 168, "week": 168, "semaine": 168}
SNOOZE_DEFAULT_HOURS = 24.0


def reply_command(text: str) -> ReplyCommand | None:
    """The command a reply's own words give (`reply_text` of the mail), or None for an
    answer. A `pass` names the colleague by address, or by a name of three words at most."""
    first, _, rest = text.strip().partition("\n")
    if GREETING.match(first.strip()):
        first, _, rest = rest.strip().partition("\n")
    line = " ".join(first.split()).rstrip(".!").strip()
    if len(line) > 300:
        return None
    if DECLINE_COMMAND.match(line):
        return ReplyCommand("decline")
    snooze = SNOOZE_COMMAND.match(line)
    if snooze:
        hours = SNOOZE_DEFAULT_HOURS
        if snooze["amount"]:
            unit = snooze["unit"].lower().rstrip("s")
            hours = float(int(snooze["amount"]) * UNIT_HOURS[unit])
        return ReplyCommand("snooze", hours=hours)
    handed = PASS_COMMAND.match(line)
    if handed:
        address = ADDRESS.search(handed["who"])
        # "Pass to Bruno Bridge" names a colleague; "Forward to the new server and restart
        # it" is an answer.
        if address:
            return ReplyCommand("pass", address=address.group(0).lower(), note=rest.strip())
        if len(handed["who"].split()) <= 3:
            return ReplyCommand("pass", name=" ".join(handed["who"].split()), note=rest.strip())
    return None
