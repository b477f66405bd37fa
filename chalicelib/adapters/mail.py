"""Mail adapters: outbound mailers (outbox + SMTP locally, SES on AWS), the email channel's
records on SQLite, and where raw inbound messages are kept (a maildir locally, S3 on AWS)."""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import secrets
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

from ..mail_ports import PRIVATE_HEADER, DigestItem, InboundRecord, ReplyAddress
from ..ports import MailNotSent, Page
from .sqlite_db import SQLiteDatabase, add_column, decode_cursor, dumps, encode_cursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    headers TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    private INTEGER NOT NULL DEFAULT 0
);
"""


def build_message(*, sender: str, to: str, subject: str, text: str, headers: dict[str, str],
                  message_id: str) -> EmailMessage:
    """The MIME message every mailer sends: plain UTF-8 text, our Message-ID, and the
    threading and loop-prevention headers the notifier chose."""
    message = EmailMessage()
    headers = dict(headers)
    headers.pop(PRIVATE_HEADER, None)  # an instruction to the mailer, never sent
    message["From"] = headers.pop("From", sender)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    return message


# A mail the SMTP server did not take is tried again this many times in all (every 15
# minutes on the local server: about three hours of an outage), then left failed, with why.
MAIL_FOLDER = "mail"  # the embedded profile's raw inbound mails, in the data folder
MAX_SEND_ATTEMPTS = 12
RETRIES_PER_RUN = 200  # the oldest first; the rest at the next run


class OutboxMailer:
    """Every mail lands in the outbox; with an SMTP URL it is also sent, and the outcome kept.
    A mail the server did not take is sent again by `retry_failed`. A mail to an anonymous
    asker is listed without its recipient and text."""

    def __init__(self, db: SQLiteDatabase, sender: str, smtp_url: str = ""):
        self.db = db
        self.sender = sender
        self.smtp_url = smtp_url
        db.executescript(SCHEMA)
        add_column(db, "outbox", "private", "INTEGER NOT NULL DEFAULT 0")
        add_column(db, "outbox", "attempts", "INTEGER NOT NULL DEFAULT 1")

    def send(self, *, to: str, subject: str, text: str, headers=None,
             kind: str = "notification") -> str:
        headers = dict(headers or {})
        private = bool(headers.pop(PRIVATE_HEADER, None))
        message_id = headers.pop("Message-ID", None) or make_msgid(domain=self.sender.split("@")[-1])
        status, error = "queued", ""
        if self.smtp_url:
            status, error = self._attempt(to, subject, text, headers, message_id)
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO outbox (message_id, kind, recipient, subject, text, headers,"
                         " status, error, private) VALUES (?,?,?,?,?,?,?,?,?)",
                         (message_id, kind, to, subject, text, dumps(headers), status, error,
                          int(private)))
        return message_id

    def retry_failed(self) -> dict:
        """Send again the mails the SMTP server did not take, oldest first, each until it goes
        or has had MAX_SEND_ATTEMPTS tries."""
        if not self.smtp_url:
            return {"retried": 0, "sent": 0}
        rows = self.db.query("SELECT seq, message_id, recipient, subject, text, headers, attempts"
                             " FROM outbox WHERE status = 'failed' AND attempts < ?"
                             " ORDER BY seq LIMIT ?", (MAX_SEND_ATTEMPTS, RETRIES_PER_RUN))
        sent = 0
        for row in rows:
            status, error = self._attempt(row["recipient"], row["subject"], row["text"],
                                          json.loads(row["headers"]), row["message_id"])
            sent += status == "sent"
            with self.db.transaction() as conn:
                conn.execute("UPDATE outbox SET status = ?, error = ?, attempts = attempts + 1"
                             " WHERE seq = ?", (status, error, row["seq"]))
        return {"retried": len(rows), "sent": sent}

    def _attempt(self, to, subject, text, headers, message_id) -> tuple[str, str]:
        """One try through SMTP: ("sent", "") or ("failed", why)."""
        try:
            self._smtp(to, subject, text, headers, message_id)
        except (OSError, smtplib.SMTPException) as exc:
            return "failed", str(exc)[:500]
        return "sent", ""

    def _smtp(self, to, subject, text, headers, message_id) -> None:
        url = urlparse(self.smtp_url)
        message = build_message(sender=self.sender, to=to, subject=subject, text=text,
                                headers=headers, message_id=message_id)
        with smtplib.SMTP(url.hostname or "127.0.0.1", url.port or 25, timeout=10) as smtp:
            if url.username:
                smtp.login(url.username, url.password or "")
            smtp.send_message(message)

    def list(self, *, limit: int, cursor: str | None = None, recipient: str | None = None) -> Page:
        offset = decode_cursor(cursor)
        where, params = "", []
        if recipient:  # private mails never match: finding one would name the asker
            where, params = "WHERE recipient = ? AND private = 0", [recipient]
        rows = self.db.query(f"SELECT * FROM outbox {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                             [*params, limit + 1, offset])
        items = []
        for row in rows[:limit]:
            item = {k: row[k] for k in row.keys() if k not in ("headers", "private")}
            if row["private"]:
                item.update(recipient=None, text=None)
            items.append(item)
        return Page(items=items,
                    next_cursor=encode_cursor(offset + limit) if len(rows) > limit else None)


@functools.lru_cache(maxsize=None)
def aws_client(service: str, region: str | None = None, signature_version: str | None = None):
    """One boto3 client per service, region and signature version, built on first use (not
    at import time)."""
    import boto3
    from botocore.config import Config
    return boto3.client(service, region_name=region,
                        config=Config(signature_version=signature_version))


class SesMailer:
    """Sends through Amazon SES (`send_raw_email`), for the aws profile.

    SES replaces the Message-ID header with its own; the id returned is the one recipients
    see (`<ses-id@region.amazonses.com>`), so that replies thread on it.
    """

    def __init__(self, sender: str, region: str, client=None):
        self.sender = sender
        self.region = region
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = aws_client("ses", self.region)
        return self._client

    def send(self, *, to: str, subject: str, text: str, headers=None,
             kind: str = "notification") -> str:
        headers = dict(headers or {})
        message_id = headers.pop("Message-ID", None) or make_msgid(
            domain=self.sender.rpartition("@")[2])
        message = build_message(sender=self.sender, to=to, subject=subject, text=text,
                                headers=headers, message_id=message_id)
        from botocore.exceptions import BotoCoreError, ClientError
        try:  # boto3 has already retried throttling and network errors
            response = self.client.send_raw_email(Source=self.sender, Destinations=[to],
                                                  RawMessage={"Data": message.as_bytes()})
        except ClientError as error:
            said = error.response.get("Error", {})
            raise MailNotSent(f"SES refused the {kind} mail: {said.get('Code', '')}: "
                              f"{said.get('Message', '')}") from error
        except BotoCoreError as error:
            raise MailNotSent(f"SES unreachable for the {kind} mail: {error}") from error
        host = ("email.amazonses.com" if self.region == "us-east-1"
                else f"{self.region}.amazonses.com")
        return f"<{response['MessageId']}@{host}>"

    def list(self, *, limit: int, cursor: str | None = None, recipient: str | None = None) -> Page:
        """SES keeps no outbox Relais can read: sending events go to CloudWatch."""
        return Page(items=[])

    def retry_failed(self) -> dict:
        """Nothing kept to retry: boto3 retried throttling and network errors already, and a
        mail SES refused is logged by the caller (MailNotSent)."""
        return {"retried": 0, "sent": 0}


# The email channel's records on SQLite ---------------------------------------------------------
LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS mail_reply_addresses (
    token TEXT PRIMARY KEY,
    question_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    role TEXT NOT NULL,
    UNIQUE (question_id, person_id, role)
);
CREATE TABLE IF NOT EXISTS mail_threads (
    message_id TEXT PRIMARY KEY,
    question_id TEXT NOT NULL,
    person_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_threads_question ON mail_threads(question_id, person_id);
CREATE TABLE IF NOT EXISTS inbound_mail (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    question_id TEXT,
    answer_id TEXT,
    stored TEXT NOT NULL DEFAULT '',
    envelope_from TEXT NOT NULL DEFAULT '',
    sender TEXT NOT NULL DEFAULT '',
    recipients TEXT NOT NULL DEFAULT '[]',
    subject TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS inbound_mail_outcome ON inbound_mail(outcome, seq);
CREATE TABLE IF NOT EXISTS mail_digest (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    question_id TEXT,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    private INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS mail_digest_pending ON mail_digest(sent_at, id);
"""

INBOUND_COLUMNS = ("message_id", "received_at", "updated_at", "outcome", "reason", "question_id",
                   "answer_id", "stored", "envelope_from", "sender", "recipients", "subject")


def new_token() -> str:
    """120 random bits in lower-case base32: mail systems may lower-case the local part."""
    return base64.b32encode(secrets.token_bytes(15)).decode().lower()


class SQLiteMailLedger:
    """MailLedger on the embedded profile's SQLite database."""

    def __init__(self, db: SQLiteDatabase):
        self.db = db
        db.executescript(LEDGER_SCHEMA)
        add_column(db, "mail_digest", "private", "INTEGER NOT NULL DEFAULT 0")

    def reply_address(self, question_id: str, person_id: str, role: str) -> ReplyAddress:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT token FROM mail_reply_addresses WHERE question_id = ? AND"
                               " person_id = ? AND role = ?",
                               (question_id, person_id, role)).fetchone()
            token = row["token"] if row else new_token()
            if row is None:
                conn.execute("INSERT INTO mail_reply_addresses VALUES (?,?,?,?)",
                             (token, question_id, person_id, role))
        return ReplyAddress(token, question_id, person_id, role)

    def find_reply_address(self, token: str) -> ReplyAddress | None:
        rows = self.db.query("SELECT * FROM mail_reply_addresses WHERE token = ?",
                             (token.lower()[:64],))
        return ReplyAddress(**dict(rows[0])) if rows else None

    def add_thread_message(self, message_id: str, question_id: str, person_id: str) -> None:
        if not message_id:
            return
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO mail_threads VALUES (?,?,?)",
                         (message_id, question_id, person_id))

    def thread(self, question_id: str, person_id: str) -> list[str]:
        rows = self.db.query("SELECT message_id FROM mail_threads WHERE question_id = ? AND"
                             " person_id = ? ORDER BY rowid", (question_id, person_id))
        return [r["message_id"] for r in rows]

    def find_thread(self, message_ids: Sequence[str]) -> tuple[str, str] | None:
        for message_id in list(message_ids)[:100]:
            rows = self.db.query("SELECT question_id, person_id FROM mail_threads"
                                 " WHERE message_id = ?", (message_id,))
            if rows:
                return rows[0]["question_id"], rows[0]["person_id"]
        return None

    @staticmethod
    def _record(row) -> InboundRecord:
        data = {k: row[k] for k in INBOUND_COLUMNS}
        data["recipients"] = json.loads(data["recipients"])
        return InboundRecord(**data)

    def claim_inbound(self, record: InboundRecord, stale_before: str) -> InboundRecord | None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM inbound_mail WHERE message_id = ?",
                               (record.message_id,)).fetchone()
            if row is None:
                conn.execute(
                    f"INSERT INTO inbound_mail ({', '.join(INBOUND_COLUMNS)})"
                    f" VALUES ({','.join('?' * len(INBOUND_COLUMNS))})",
                    self._values(record.__class__(**{**record.to_dict(),
                                                     "outcome": "processing"})))
                return None
            if row["outcome"] == "processing" and row["updated_at"] < stale_before:
                conn.execute("UPDATE inbound_mail SET updated_at = ? WHERE message_id = ?",
                             (record.updated_at, record.message_id))
                return None
            return self._record(row)

    @staticmethod
    def _values(record: InboundRecord) -> list:
        data = record.to_dict()
        data["recipients"] = dumps(data["recipients"])
        return [data[k] for k in INBOUND_COLUMNS]

    def finish_inbound(self, record: InboundRecord) -> None:
        columns = [c for c in INBOUND_COLUMNS if c != "message_id"]
        values = dict(zip(INBOUND_COLUMNS, self._values(record)))
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE inbound_mail SET {', '.join(c + ' = ?' for c in columns)}"
                         " WHERE message_id = ?",
                         [values[c] for c in columns] + [record.message_id])

    def get_inbound(self, message_id: str) -> InboundRecord | None:
        rows = self.db.query("SELECT * FROM inbound_mail WHERE message_id = ?", (message_id,))
        return self._record(rows[0]) if rows else None

    def list_inbound(self, *, limit: int, cursor: str | None = None,
                     outcome: str | None = None) -> Page:
        offset = decode_cursor(cursor)
        where, params = ("WHERE outcome = ?", [outcome]) if outcome else ("", [])
        rows = self.db.query(f"SELECT * FROM inbound_mail {where} ORDER BY seq DESC"
                             " LIMIT ? OFFSET ?", [*params, limit + 1, offset])
        return Page(items=[self._record(r) for r in rows[:limit]],
                    next_cursor=encode_cursor(offset + limit) if len(rows) > limit else None)

    def queue_digest(self, person_id: str, kind: str, question_id: str | None, subject: str,
                     text: str, created_at: str, private: bool = False) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO mail_digest (person_id, kind, question_id, subject, text,"
                         " created_at, private) VALUES (?,?,?,?,?,?,?)",
                         (person_id, kind, question_id, subject, text, created_at, int(private)))

    def pending_digests(self) -> list[DigestItem]:
        rows = self.db.query("SELECT id, person_id, kind, question_id, subject, text, created_at,"
                             " private FROM mail_digest WHERE sent_at IS NULL ORDER BY id")
        return [DigestItem(**{**dict(r), "private": bool(r["private"])}) for r in rows]

    def mark_digests_sent(self, ids: Sequence[int], sent_at: str) -> None:
        with self.db.transaction() as conn:
            conn.executemany("UPDATE mail_digest SET sent_at = ? WHERE id = ?",
                             [(sent_at, i) for i in ids])


# Where raw inbound messages are kept -----------------------------------------------------------
def raw_name(key: str) -> str:
    """A file or object name for a message: time first (so listings sort), then a digest of
    the Message-ID (never the id itself: it is sender-controlled text)."""
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:24]
    return f"{int(time.time())}.{digest}.eml"


class MaildirStore:
    """Raw messages in maildirs under `root`: `inbox/` for kept mail, `quarantine/` for mail
    that could not be used. Files are written to tmp/ and renamed, so none is ever partial."""

    def __init__(self, root: str | Path, *, fsync: bool = True):
        self.root = Path(root)
        self.fsync = fsync  # on by default: the sender hears "250" only once the mail is on disk
        for box in ("inbox", "quarantine"):
            for sub in ("tmp", "new", "cur"):
                (self.root / box / sub).mkdir(parents=True, exist_ok=True)

    def keep(self, key: str, raw: bytes) -> str:
        name = raw_name(key)
        tmp = self.root / "inbox" / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(raw)
            if self.fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, self.root / "inbox" / "new" / name)
        return str(Path("inbox") / "new" / name)

    def quarantine(self, location: str) -> str:
        source = self.root / location
        if not location or not source.is_file() or source.parent.parent.name == "quarantine":
            return location
        target = Path("quarantine") / "new" / source.name
        os.replace(source, self.root / target)
        return str(target)

    def read(self, location: str) -> bytes:
        return (self.root / location).read_bytes()


class S3MailStore:
    """Raw messages in S3 (the aws profile). SES already wrote the received mail: keeping it
    again is needed only for mail that came another way. Quarantine is a prefix."""

    def __init__(self, bucket: str, region: str, client=None):
        self.bucket = bucket
        self.region = region
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = aws_client("s3", self.region)
        return self._client

    def keep(self, key: str, raw: bytes) -> str:
        name = f"kept/{raw_name(key)}"
        self.client.put_object(Bucket=self.bucket, Key=name, Body=raw)
        return f"s3://{self.bucket}/{name}"

    def quarantine(self, location: str) -> str:
        bucket, _, key = location.removeprefix("s3://").partition("/")
        if not key or key.startswith("quarantine/"):
            return location
        target = "quarantine/" + key.rsplit("/", 1)[-1]
        self.client.copy_object(Bucket=bucket, Key=target,
                                CopySource={"Bucket": bucket, "Key": key})
        self.client.delete_object(Bucket=bucket, Key=key)
        return f"s3://{bucket}/{target}"


@dataclass
class ReceivedMail:
    """A mail SES received and stored in S3, with what SES said about it."""

    raw: bytes
    location: str
    envelope_from: str | None  # None: SES wrote no Return-Path; "": a null sender (a bounce)
    recipients: list[str]
    verdicts: dict


def read_ses_object(bucket: str, key: str, region: str, *, max_bytes: int,
                    client=None) -> ReceivedMail:
    """Read a mail the SES receipt rule wrote to S3. The envelope and verdicts come from the
    headers SES put on top: Return-Path, the first Received's `for <rcpt>`, X-SES-*-Verdict and
    Authentication-Results. A mail over `max_bytes` is read only up to the limit + 1 byte, so
    that the ingest refuses it without holding it all."""
    from email import message_from_bytes, policy

    from ..mailparse import Limits, header_section, read_headers, ses_verdicts

    client = client or aws_client("s3", region)
    body = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")["Body"]
    raw = body.read(max_bytes + 1)
    try:
        head = header_section(raw, Limits())
        headers = read_headers(message_from_bytes(head + b"\r\n\r\n", policy=policy.default))
    except Exception:
        headers = {}
    return_path = re.search(r"<([^<>\s]*)>", headers.get("return-path", ""))
    recipients = re.findall(r"\bfor\s+<?([^\s<>;@]+@[^\s<>;]+?)>?(?:;|\s|$)",
                            headers.get("received", ""))[:1]
    return ReceivedMail(raw=raw, location=f"s3://{bucket}/{key}",
                        envelope_from=return_path.group(1) if return_path else None,
                        recipients=recipients, verdicts=ses_verdicts(headers))


# The email channel's records on DynamoDB (the aws profile) -------------------------------------
MAIL_INDEXES = (
    {"IndexName": "inbound", "Projection": {"ProjectionType": "ALL"},
     "KeySchema": [{"AttributeName": "inbound_pk", "KeyType": "HASH"},
                   {"AttributeName": "order_sk", "KeyType": "RANGE"}]},
    {"IndexName": "outcome", "Projection": {"ProjectionType": "ALL"},
     "KeySchema": [{"AttributeName": "outcome_pk", "KeyType": "HASH"},
                   {"AttributeName": "order_sk", "KeyType": "RANGE"}]},
)


def mail_table_name(prefix: str) -> str:
    return f"{prefix}-mail"


def create_mail_table(client, prefix: str) -> str:
    """Create `<prefix>-mail` (on demand) unless it exists; return its name. Infra declares the
    same shape: pk/sk strings and the two inbound indexes."""
    from botocore.exceptions import ClientError

    name = mail_table_name(prefix)
    try:
        client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in
                                  ("pk", "sk", "inbound_pk", "outcome_pk", "order_sk")],
            GlobalSecondaryIndexes=list(MAIL_INDEXES))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=name,
                                           WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return name


class DynamoDBMailLedger:
    """MailLedger on one DynamoDB table (single-table design):

    | item | pk | sk |
    |---|---|---|
    | reply address | `TOKEN#<token>` | `TOKEN` |
    | its (question, person, role) guard | `REPLY#<question>#<person>#<role>` | `REPLY` |
    | known Message-ID | `MSG#<message id>` | `MSG` |
    | thread entry | `THREAD#<question>#<person>` | `<time ns>#<message id>` |
    | inbound record | `INBOUND#<message id>` | `INBOUND` (indexed newest first, by outcome) |
    | held digest item | `DIGEST` | `<created at>#<random>` |

    Claims and first writes are conditional puts, so two Lambdas receiving the same mail
    agree on who processes it.
    """

    def __init__(self, client, table: str):
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client = client
        self.table = table
        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize

    # Plumbing ----------------------------------------------------------------------------
    def _item(self, **attrs) -> dict:
        return {k: self._serialize(v) for k, v in attrs.items() if v is not None}

    def _plain(self, item: dict) -> dict:
        return {k: self._deserialize(v) for k, v in item.items()}

    def _get(self, pk: str, sk: str) -> dict | None:
        found = self.client.get_item(TableName=self.table, ConsistentRead=True,
                                     Key=self._item(pk=pk, sk=sk)).get("Item")
        return self._plain(found) if found else None

    def _put_new(self, item: dict, condition: str = "attribute_not_exists(pk)",
                 values: dict | None = None) -> bool:
        """Put `item` if `condition` holds; False when it did not."""
        from botocore.exceptions import ClientError

        params = {"TableName": self.table, "Item": item, "ConditionExpression": condition}
        if values:
            params["ExpressionAttributeValues"] = {k: self._serialize(v)
                                                   for k, v in values.items()}
        try:
            self.client.put_item(**params)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise

    def _query(self, limit: int | None = None, start: dict | None = None, forward=True, **kw):
        params = {"TableName": self.table, "ScanIndexForward": forward, **kw}
        while True:
            if limit:
                params["Limit"] = limit
            if start:
                params["ExclusiveStartKey"] = start
            page = self.client.query(**params)
            for item in page.get("Items", []):
                yield self._plain(item)
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    # Reply addresses and threads -----------------------------------------------------------
    def reply_address(self, question_id: str, person_id: str, role: str) -> ReplyAddress:
        guard = f"REPLY#{question_id}#{person_id}#{role}"
        found = self._get(guard, "REPLY")
        token = found["token"] if found else new_token()
        if found is None:
            # The token first: a guard never points at a missing token. A lost race leaves an
            # extra token bound to the same person and question, which is harmless.
            self.client.put_item(TableName=self.table, Item=self._item(
                pk=f"TOKEN#{token}", sk="TOKEN", question_id=question_id, person_id=person_id,
                role=role))
            if not self._put_new(self._item(pk=guard, sk="REPLY", token=token)):
                token = self._get(guard, "REPLY")["token"]
        return ReplyAddress(token, question_id, person_id, role)

    def find_reply_address(self, token: str) -> ReplyAddress | None:
        found = self._get(f"TOKEN#{token.lower()[:64]}", "TOKEN")
        if found is None:
            return None
        return ReplyAddress(token.lower(), found["question_id"], found["person_id"],
                            found["role"])

    def add_thread_message(self, message_id: str, question_id: str, person_id: str) -> None:
        if not message_id:
            return
        if self._put_new(self._item(pk=f"MSG#{message_id}", sk="MSG", question_id=question_id,
                                    person_id=person_id)):
            self.client.put_item(TableName=self.table, Item=self._item(
                pk=f"THREAD#{question_id}#{person_id}", sk=f"{time.time_ns():020d}#{message_id}",
                message_id=message_id))

    def thread(self, question_id: str, person_id: str) -> list[str]:
        pk = self._serialize(f"THREAD#{question_id}#{person_id}")
        return [item["message_id"] for item in self._query(
            KeyConditionExpression="pk = :pk", ConsistentRead=True,
            ExpressionAttributeValues={":pk": pk})]

    def find_thread(self, message_ids: Sequence[str]) -> tuple[str, str] | None:
        for message_id in list(message_ids)[:100]:
            found = self._get(f"MSG#{message_id}", "MSG")
            if found is not None:
                return found["question_id"], found["person_id"]
        return None

    # Inbound records ---------------------------------------------------------------------------
    def _inbound_item(self, record: InboundRecord) -> dict:
        data = record.to_dict()
        return self._item(pk=f"INBOUND#{record.message_id}", sk="INBOUND", inbound_pk="INBOUND",
                          outcome_pk=f"OUTCOME#{record.outcome}",
                          order_sk=f"{record.received_at}#{record.message_id}", **data)

    def _inbound_record(self, item: dict) -> InboundRecord:
        names = InboundRecord.__dataclass_fields__
        return InboundRecord(**{k: v for k, v in item.items() if k in names})

    def claim_inbound(self, record: InboundRecord, stale_before: str) -> InboundRecord | None:
        claim = InboundRecord(**{**record.to_dict(), "outcome": "processing"})
        if self._put_new(self._inbound_item(claim),
                         "attribute_not_exists(pk) OR (outcome = :processing AND "
                         "updated_at < :stale)",
                         {":processing": "processing", ":stale": stale_before}):
            return None
        return self.get_inbound(record.message_id)

    def finish_inbound(self, record: InboundRecord) -> None:
        self.client.put_item(TableName=self.table, Item=self._inbound_item(record))

    def get_inbound(self, message_id: str) -> InboundRecord | None:
        found = self._get(f"INBOUND#{message_id}", "INBOUND")
        return self._inbound_record(found) if found else None

    def list_inbound(self, *, limit: int, cursor: str | None = None,
                     outcome: str | None = None) -> Page:
        index, key, value = (("outcome", "outcome_pk", f"OUTCOME#{outcome}") if outcome
                             else ("inbound", "inbound_pk", "INBOUND"))
        start = None
        if cursor:
            try:
                start = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
                if not isinstance(start, dict) or start.get(key, {}).get("S") != value:
                    raise ValueError
            except (ValueError, TypeError, AttributeError):
                from ..errors import field_error
                raise field_error("cursor", "not a cursor returned by this listing") from None
        items = []
        for item in self._query(limit=limit + 1, start=start, forward=False, IndexName=index,
                                KeyConditionExpression=f"{key} = :v",
                                ExpressionAttributeValues={":v": self._serialize(value)}):
            items.append(item)
            if len(items) > limit:
                break
        next_cursor = None
        if len(items) > limit:
            last = items[limit - 1]
            keys = {k: self._serialize(last[k]) for k in ("pk", "sk", key, "order_sk")}
            next_cursor = base64.urlsafe_b64encode(json.dumps(keys).encode()).decode().rstrip("=")
        return Page(items=[self._inbound_record(i) for i in items[:limit]],
                    next_cursor=next_cursor)

    # Digests -----------------------------------------------------------------------------
    def queue_digest(self, person_id: str, kind: str, question_id: str | None, subject: str,
                     text: str, created_at: str, private: bool = False) -> None:
        self.client.put_item(TableName=self.table, Item=self._item(
            pk="DIGEST", sk=f"{created_at}#{secrets.token_hex(8)}", person_id=person_id,
            kind=kind, question_id=question_id, subject=subject, text=text,
            created_at=created_at, private=private))

    def pending_digests(self) -> list[DigestItem]:
        return [DigestItem(id=item["sk"], person_id=item["person_id"], kind=item["kind"],
                           question_id=item.get("question_id"), subject=item["subject"],
                           text=item["text"], created_at=item["created_at"],
                           private=bool(item.get("private")))
                for item in self._query(KeyConditionExpression="pk = :pk", ConsistentRead=True,
                                        ExpressionAttributeValues={
                                            ":pk": self._serialize("DIGEST")})]

    def mark_digests_sent(self, ids: Sequence[str], sent_at: str) -> None:
        # Sent items leave the queue; the outbox of record is SES's sending events.
        for sk in ids:
            self.client.delete_item(TableName=self.table, Key=self._item(pk="DIGEST", sk=sk))
