"""Reading untrusted inbound mail: bounded parsing, safe text extraction, HTML to text.

Every limit here exists because inbound mail is hostile input: a message is refused (with a
reason a person can read) rather than parsed past its size, header, nesting or time budget.
Nothing here sends, stores or raises anything but `MailError`.
"""
from __future__ import annotations

import codecs
import hashlib
import re
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser

# Codecs that are "text encodings" to Python but turn bytes into code or control: never used
# to decode a stranger's mail.
UNSAFE_CHARSETS = {"unicode_escape", "raw_unicode_escape", "punycode", "idna", "undefined"}


class MailError(Exception):
    """The message cannot be read within the limits; `reason` says why, for the quarantine."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """How much of a message Relais is willing to read."""

    max_bytes: int = 10_000_000  # the whole raw message
    max_header_bytes: int = 256_000  # the top-level header section
    max_header_fields: int = 1_000
    max_field_bytes: int = 32_000  # one header field, folded lines included
    max_parts: int = 200  # MIME parts, nested messages included
    max_depth: int = 12  # multipart / message nesting
    max_text_bytes: int = 1_000_000  # decoded text kept from one part
    max_decoded_total: int = 4_000_000  # decoded bytes over all text parts
    max_html_chars: int = 200_000  # HTML read for text; a reply's own words come first
    max_seconds: float = 2.0  # wall-clock budget for reading one message


@dataclass
class ParsedMail:
    """What Relais reads of a message: addresses lower-cased, text decoded and cleaned."""

    message_id: str
    sender: str  # From's address, lower case ("" if none could be read)
    sender_name: str
    subject: str
    text: str  # text/plain, or the HTML part turned into text
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)  # To and Cc addresses
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased name -> first value
    content_type: str = "text/plain"
    from_html: bool = False

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


# Headers Relais reads; everything else stays in the raw message for people to look at.
READ_HEADERS = ("message-id", "subject", "from", "to", "cc", "in-reply-to", "references",
                "auto-submitted", "x-autoreply", "x-autorespond", "x-auto-response-suppress",
                "precedence", "x-relais-kind", "return-path", "delivered-to", "x-original-to",
                "x-ses-spam-verdict", "x-ses-virus-verdict", "received-spf",
                "authentication-results", "received", "list-id")

MSGID_RE = re.compile(r"<([^<>\s]{1,900})>")
SEPARATOR_RE = re.compile(rb"\r?\n\r?\n")


class Budget:
    """A deadline checked between steps, so that no single message holds the ingest."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def check(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            raise MailError(f"reading the message took too long ({what})")


def header_section(raw: bytes, limits: Limits) -> bytes:
    """The top-level header section, refused when over its limits."""
    match = SEPARATOR_RE.search(raw, 0, limits.max_header_bytes + 4)
    if match is None:
        if len(raw) > limits.max_header_bytes:
            raise MailError(f"header section over {limits.max_header_bytes} bytes")
        return raw
    return raw[:match.start()]


def check_header_section(head: bytes, limits: Limits) -> None:
    fields, size = 0, 0
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):
            size += len(line)
        else:
            fields += 1
            size = len(line)
        if size > limits.max_field_bytes:
            raise MailError(f"a header field is over {limits.max_field_bytes} bytes")
    if fields > limits.max_header_fields:
        raise MailError(f"more than {limits.max_header_fields} header fields")


def first_message_id(value: str) -> str:
    match = MSGID_RE.search(value or "")
    return f"<{match.group(1)}>" if match else ""


def message_ids(value: str, limit: int = 50) -> list[str]:
    return [f"<{m}>" for m in MSGID_RE.findall(value or "")[-limit:]]


def message_key(raw: bytes, limits: Limits = Limits()) -> str:
    """The message's Message-ID, read without parsing the body; a digest of the bytes when it
    has none (so that the same bytes delivered twice still count once)."""
    try:
        head = header_section(raw, limits)[:limits.max_header_bytes]
        for match in re.finditer(rb"(?im)^message-id[ \t]*:((?:[^\r\n]*)(?:\r?\n[ \t][^\r\n]*)*)",
                                 head):
            found = first_message_id(match.group(1).decode("utf-8", "replace"))
            if found:
                return found
    except MailError:
        pass
    return f"<{hashlib.sha256(raw).hexdigest()}@digest.relais.invalid>"


def parse(raw: bytes, limits: Limits = Limits()) -> ParsedMail:
    """Read `raw` within `limits`. :raises MailError: with the reason it cannot be read."""
    budget = Budget(limits.max_seconds)
    if not raw or not raw.strip():
        raise MailError("empty message")
    if len(raw) > limits.max_bytes:
        raise MailError(f"message over {limits.max_bytes} bytes ({len(raw)})")
    head = header_section(raw, limits)
    check_header_section(head, limits)
    if b":" not in head:
        raise MailError("no header fields")
    # The stdlib parser recurses once per nesting level: bound the parts before it starts.
    declared = raw.lower().count(b"content-type:")
    if declared > limits.max_parts:
        raise MailError(f"more than {limits.max_parts} MIME parts")
    try:
        # compat32 keeps headers as strings: the structured parsers of policy.default cost
        # more than the rest of the ingest on hostile mail, and Relais reads few headers.
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except RecursionError:
        raise MailError("MIME nesting too deep") from None
    except Exception as exc:  # the stdlib parser's failures are bad input, not our bugs
        raise MailError(f"unparseable message ({type(exc).__name__})") from None
    budget.check("structure")
    headers = read_headers(message)
    sender_name, sender = sender_of(headers)
    recipients = addresses_in(headers.get("to", "") + " " + headers.get("cc", ""))
    budget.check("headers")
    text, from_html = body_text(message, limits, budget)
    return ParsedMail(
        message_id=first_message_id(headers.get("message-id", "")),
        sender=sender, sender_name=sender_name, subject=clean_line(headers.get("subject", "")),
        text=text, in_reply_to=message_ids(headers.get("in-reply-to", ""), 5),
        references=message_ids(headers.get("references", "")), recipients=recipients[:100],
        headers=headers, content_type=safe_content_type(message), from_html=from_html)


MAX_HEADER_VALUE = 8_000  # of a header Relais reads (more is cut off)
MAX_FROM = 998  # one line: longer From headers are not someone's address
ADDRESS_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
                        r"@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def read_headers(message) -> dict[str, str]:
    """The first value of each header Relais reads, taken from the raw lines: the stdlib's
    structured header parsers are slow on hostile input, so only Subject is decoded."""
    found: dict[str, str] = {}
    for name, value in message.raw_items():
        key = str(name).lower()
        if key in READ_HEADERS and key not in found:
            # Bytes that were not UTF-8 arrive as surrogate escapes: make them plain text.
            text = str(value)[:MAX_HEADER_VALUE].encode("utf-8", "surrogateescape")
            text = text.decode("utf-8", "replace")
            found[key] = re.sub(r"\r?\n(?=[ \t])", "", text).strip()
    if "subject" in found:
        found["subject"] = decoded(found["subject"][:2000])
    return {k: v for k, v in found.items() if v}


def decoded(value: str) -> str:
    """A header's text with RFC 2047 encoded words decoded (bogus ones left as they are)."""
    try:
        return str(policy.default.header_factory("subject", value))
    except Exception:
        return value


def clean_line(text: str) -> str:
    """One line of printable text (subjects, names)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:1000]


def sender_of(headers: dict[str, str]) -> tuple[str, str]:
    """(display name, lower-case address) of the From header, or ("", "") if unreadable."""
    value = headers.get("from", "")
    # The stdlib's address parser slows down sharply on runs of quotes and comments; a real
    # From header has a handful.
    if not value or len(value) > MAX_FROM or value.count('"') > 20 or value.count("(") > 20:
        return "", ""
    try:
        addresses = policy.default.header_factory("from", value).addresses
    except Exception:
        return "", ""
    if not addresses:
        return "", ""
    addr = (addresses[0].addr_spec or "").strip().lower()
    if not ADDRESS_RE.fullmatch(addr):
        return "", ""
    return clean_line(addresses[0].display_name or ""), addr


def addresses_in(value: str, limit: int = 100) -> list[str]:
    """Lower-case addresses in a raw To/Cc value, found by pattern (enough to see whether a
    Relais address is among them, and linear in the length of the header)."""
    return [a.lower() for a in ADDRESS_RE.findall(value)[:limit]]


def safe_content_type(part) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def is_attachment(part) -> bool:
    try:
        return (part.get_content_disposition() or "") == "attachment"
    except Exception:
        return True


def body_text(message, limits: Limits, budget: Budget) -> tuple[str, bool]:
    """The message's own text: the first text/plain part, else the first text/html one turned
    into text. Walks the MIME tree without recursion, within the part and depth limits."""
    plain = html = None
    decoded_total = 0
    stack = [(message, 0)]
    parts = 0
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > limits.max_parts:
            raise MailError(f"more than {limits.max_parts} MIME parts")
        if depth > limits.max_depth:
            raise MailError(f"MIME nesting deeper than {limits.max_depth}")
        budget.check("parts")
        if depth and sum(len(str(v)) for _, v in part.raw_items()) > limits.max_field_bytes:
            raise MailError(f"a MIME part's headers are over {limits.max_field_bytes} bytes")
        try:
            children = list(part.get_payload()) if part.is_multipart() else []
        except Exception:
            children = []
        if children:
            stack.extend((child, depth + 1) for child in reversed(children))
            continue
        kind = safe_content_type(part)
        if kind not in ("text/plain", "text/html") or is_attachment(part):
            continue
        if (plain if kind == "text/plain" else html) is not None:
            continue
        if decoded_total >= limits.max_decoded_total:
            continue
        text, size = decode_part(part, limits.max_text_bytes)
        decoded_total += size
        if kind == "text/plain":
            plain = text
        else:
            html = text
        if plain is not None:
            break
    if plain is not None and plain.strip():
        return normalize_text(plain), False
    if html is not None:
        budget.check("html")
        return normalize_text(html_to_text(html, limits.max_html_chars, budget)), True
    return normalize_text(plain or ""), False


def charset_of(part) -> str:
    try:
        charset = (part.get_content_charset() or "utf-8").strip().lower()
    except Exception:
        return "utf-8"
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError, TypeError):
        return "utf-8"
    if (not getattr(info, "_is_text_encoding", True)
            or info.name.replace("-", "_") in UNSAFE_CHARSETS):
        return "utf-8"
    return info.name


def decode_part(part, max_bytes: int) -> tuple[str, int]:
    """A text part's content, at most `max_bytes` of it, in its charset (utf-8 if unknown)."""
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:
        payload = b""
    if not isinstance(payload, bytes):
        payload = b""
    size = len(payload)
    payload = payload[:max_bytes]
    try:
        text = payload.decode(charset_of(part), errors="replace")
    except Exception:
        text = payload.decode("utf-8", errors="replace")
    try:
        flowed = str(part.get_param("format", "")).lower() == "flowed"
        delsp = str(part.get_param("delsp", "")).lower() == "yes"
    except Exception:
        flowed = delsp = False
    return (unflow(text, delsp) if flowed else text), size


def unflow(text: str, delsp: bool = False) -> str:
    """Undo RFC 3676 format=flowed: a line ending in a space continues on the next line of
    the same quote depth (Thunderbird and Apple Mail wrap long lines this way)."""
    out: list[str] = []
    pending: tuple[int, str] | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if pending is not None and pending[0] == depth:
            content = pending[1] + content
        elif pending is not None:
            out.append(">" * pending[0] + (" " if pending[0] else "") + pending[1])
        pending = None
        if content.endswith(" ") and content != "-- ":
            pending = (depth, content[:-1] if delsp else content)
            continue
        out.append(">" * depth + (" " if depth and content else "") + content)
    if pending is not None:
        out.append(">" * pending[0] + (" " if pending[0] else "") + pending[1])
    return "\n".join(out)


CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f"  # control characters
                        r"\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # invisible, bidi


def normalize_text(text: str) -> str:
    """Unix newlines, no control or direction-override characters, no trailing spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = CONTROL_RE.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# HTML to text ------------------------------------------------------------------------------
SKIPPED_TAGS = {"script", "style", "head", "title", "template", "noscript", "svg", "math",
                "object", "iframe", "select", "textarea"}
BLOCK_TAGS = {"p", "div", "section", "article", "header", "footer", "table", "tr", "ul", "ol",
              "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "address", "dl", "dt", "dd",
              "form", "fieldset", "figure", "center", "main", "nav", "aside"}
VOID_TAGS = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr",
             "source", "track", "embed", "param"}
HTML_CHUNK = 32_768


class _TextExtractor(HTMLParser):
    """Keeps the visible text: scripts and styles dropped, blocks as lines, quotes as `> `,
    preformatted text (code) line by line."""

    def __init__(self, max_chars: int):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.size = 0
        self.max_chars = max_chars
        self.skipping = 0
        self.quote = 0
        self.pre = 0  # inside <pre>: the text's own line breaks are kept
        self.link: str | None = None
        self.link_text = ""  # the text shown for the open link, to skip repeating its target

    def emit(self, text: str) -> None:
        if self.size >= self.max_chars or not text:
            return
        text = text[:self.max_chars - self.size]
        self.out.append(text)
        self.size += len(text)
        if self.link is not None and len(self.link_text) < 1000:
            self.link_text += text

    def newline(self) -> None:
        self.emit("\n" + "> " * self.quote)

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED_TAGS:
            if tag not in VOID_TAGS:
                self.skipping += 1
            return
        if self.skipping:
            return
        if tag == "pre":
            self.pre = min(self.pre + 1, 20)
        if tag == "blockquote":
            self.quote = min(self.quote + 1, 20)
            self.newline()
        elif tag == "br" or tag in BLOCK_TAGS:
            self.newline()
        elif tag == "li":
            self.newline()
            self.emit("- ")
        elif tag in ("td", "th"):
            self.emit(" ")
        elif tag == "a":
            href = next((v for k, v in attrs if k == "href" and v), "")
            self.link = href if re.match(r"(?i)^(https?:|mailto:)", href) else None
            self.link_text = ""

    def handle_endtag(self, tag):
        if tag in SKIPPED_TAGS:
            if tag not in VOID_TAGS:
                self.skipping = max(0, self.skipping - 1)
            return
        if self.skipping:
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self.newline()
        elif tag in BLOCK_TAGS:
            self.newline()
        elif tag == "a" and self.link:
            target = self.link[7:] if self.link.lower().startswith("mailto:") else self.link
            self.link = None
            if target not in self.link_text:
                self.emit(f" <{target[:500]}>")

    def handle_data(self, data):
        if self.skipping:
            return
        if self.quote:
            data = data.replace("\n", "\n" + "> " * self.quote)
        elif not self.pre:
            data = " ".join(data.split("\n"))
        self.emit(data)


def html_to_text(html: str, max_chars: int = 1_000_000, budget: Budget | None = None) -> str:
    """Visible text of an HTML mail part; markup, scripts and styles never reach the output."""
    parser = _TextExtractor(max_chars)
    html = html[:max_chars]
    try:
        for start in range(0, len(html), HTML_CHUNK):
            if budget is not None:
                budget.check("html")
            parser.feed(html[start:start + HTML_CHUNK])
            if parser.size >= max_chars:
                break
        parser.close()
    except MailError:
        raise
    except Exception:  # HTMLParser gives up on some broken markup: keep what it read
        pass
    text = "".join(parser.out)
    # Lines made only of spaces and quote marks are layout, not content.
    return "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")).strip()


# SES receipt verdicts -----------------------------------------------------------------------
def ses_verdicts(headers: dict[str, str]) -> dict:
    """The receipt verdicts SES writes into a mail it stores in S3 (its own headers are the
    topmost ones, so a sender cannot forge them by adding the same header lower down)."""
    verdicts = {}
    for key, header in (("spamVerdict", "x-ses-spam-verdict"),
                        ("virusVerdict", "x-ses-virus-verdict")):
        if headers.get(header):
            verdicts[key] = {"status": headers[header].strip().upper()[:20]}
    results = headers.get("authentication-results", "")
    if results.lower().startswith("amazonses.com"):
        for key, method in (("spfVerdict", "spf"), ("dkimVerdict", "dkim"),
                            ("dmarcVerdict", "dmarc")):
            match = re.search(rf"(?i)\b{method}=(\w+)", results)
            if match:
                verdicts[key] = {"status": match.group(1).upper()}
    return verdicts
