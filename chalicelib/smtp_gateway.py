"""The embedded profile's inbound mail: a small SMTP server (aiosmtpd) in front of the ingest.

It accepts mail only for Relais addresses and only up to the size limit, hands each message
to `EmailIngestService.ingest` (off the event loop), and answers the sending server only once
the message is kept: 250 when Relais has it (even quarantined), 451 when it should be
delivered again later. The sender's server keeps a message until it reads 250, so nothing is
lost between the two.
"""
from __future__ import annotations

import asyncio
import logging

from aiosmtpd.controller import Controller

log = logging.getLogger("relais.smtp")

MAX_RECIPIENTS = 50


class IngestHandler:
    """aiosmtpd handler: RCPT filters addresses, DATA runs the ingest."""

    def __init__(self, ingest):
        self.ingest = ingest  # EmailIngestService

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.ingest.is_open():
            return "550 5.7.1 Mail to Relais is switched off here"
        if not self.ingest.is_relais_address(address):
            return "550 5.1.1 No such mailbox here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, self.ingest.ingest, raw, envelope.mail_from,
                                            list(envelope.rcpt_tos))
        if result.retry_later:
            return f"451 4.3.0 {result.reason[:200]}"
        return f"250 2.0.0 {result.outcome}"


class SmtpGateway:
    """A running gateway; `stop()` closes it."""

    def __init__(self, controller: Controller):
        self.controller = controller

    @property
    def address(self) -> tuple[str, int]:
        return self.controller.hostname, self.controller.port

    def stop(self) -> None:
        self.controller.stop()


def start_gateway(ingest, host: str, port: int, *, max_bytes: int) -> SmtpGateway:
    """Listen on host:port in a background thread until `stop()`."""
    controller = Controller(IngestHandler(ingest), hostname=host, port=port,
                            data_size_limit=max_bytes, enable_SMTPUTF8=True,
                            ident="Relais mail gateway")
    controller.start()
    return SmtpGateway(controller)
