"""The embedded profile's local server: the Chalice app on a threaded HTTP server, plus the
built web widget (GET /widget/relais-widget.js) and, with --demo, an intranet-like host page
that embeds it (GET /demo/; `?as=<person-id>` signs in as someone else, `?tab=` opens a tab).
A thread runs the timed jobs that EventBridge runs on AWS (escalations, digests)."""
from __future__ import annotations

import dataclasses

import functools
import html
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from chalice.config import Config
from chalice.local import (ChaliceRequestHandler, ForbiddenError, LocalChalice,
                          LocalDevServer, create_local_server)

from .adapters.local_scheduler import LocalScheduler
from .bootstrap import bootstrap
from .config import Settings
from .errors import NotFound
from .services.jobs import DIGEST_HOUR, ESCALATION_EVERY

DEMO_PERSON = "p030"
FRONTEND = Path(__file__).resolve().parent.parent / "frontend"
WIDGET = FRONTEND / "dist" / "relais-widget.js"
DEMO_PAGE = FRONTEND / "demo" / "index.html"
TABS = ("ask", "mine", "inbox", "directory", "profile")


class Pages:
    """The non-API pages: the widget bundle, and the demo host page when `demo` is on."""

    def __init__(self, relais, *, demo: bool):
        self.relais = relais
        self.demo = demo

    def get(self, target: str) -> tuple[int, str, bytes] | None:
        """(status, content type, body) for a page path, or None to let the API answer."""
        url = urlsplit(target)
        if url.path == "/widget/relais-widget.js":
            if not WIDGET.exists():
                return 404, "text/plain; charset=utf-8", (
                    b"The widget is not built: run `make install` (or `npm run build` in frontend/).")
            return 200, "text/javascript; charset=utf-8", WIDGET.read_bytes()
        if self.demo and url.path in ("/demo", "/demo/", "/demo/index.html"):
            return self.demo_page(parse_qs(url.query))
        return None

    def demo_page(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        person_id = (query.get("as") or [DEMO_PERSON])[0]
        tab = (query.get("tab") or ["ask"])[0]
        person = self.relais.profile_store.get(person_id)
        if person is None or not self.relais.tokens:
            return 404, "text/plain; charset=utf-8", f"No such person: {person_id}".encode()
        values = {"API": self.relais.settings.base_url, "PERSON": person.id, "NAME": person.name,
                  "TOKEN": self.relais.tokens.issue(person.id),
                  "TAB": tab if tab in TABS else "ask"}
        page = DEMO_PAGE.read_text(encoding="utf-8")
        for key, value in values.items():
            page = page.replace("{{%s}}" % key, html.escape(value, quote=True))
        return 200, "text/html; charset=utf-8", page.encode()


class RelaisRequestHandler(ChaliceRequestHandler):
    """Chalice's handler, answering GET for the pages first."""

    def __init__(self, *args, pages: Pages, **kwargs):
        self.pages = pages
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        page = self.pages.get(self.path)
        if page is None:
            return super().do_GET()
        status, content_type, body = page
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def _send_error_response(self, error) -> None:
        # Chalice's local gateway answers a path no route has as API Gateway does, 403
        # "Missing Authentication Token" (no authorizer of Chalice's is used here, so that is
        # the only 403 it sends): a 404 in Relais's error shape says what happened.
        if isinstance(error, ForbiddenError):
            body = NotFound(f"no such path: {urlsplit(self.path).path}").to_body()
            return self._send_http_response(404, {"Content-Type": "application/json",
                                                  "Access-Control-Allow-Origin": "*"},
                                            json.dumps(body))
        return super()._send_error_response(error)


def make_server(relais, settings: Settings, *, demo: bool = False):
    """Chalice's local server for `relais`, with the pages; `.server.serve_forever()` runs it."""
    import app as app_module

    app_module.use(relais)
    config = Config(chalice_stage="local")
    handler = functools.partial(RelaisRequestHandler, pages=Pages(relais, demo=demo))
    if isinstance(app_module.app, LocalChalice):  # create_local_server patches the app once only
        return LocalDevServer(app_module.app, config, settings.host, settings.port,
                              handler_cls=handler)
    server = create_local_server(app_module.app, config, settings.host, settings.port)
    server.server.RequestHandlerClass = functools.partial(handler, app_object=app_module.app,
                                                          config=config)
    return server


def start_mail_gateway(relais, settings: Settings):
    """The inbound SMTP gateway beside the API (RELAIS_SMTP_GATEWAY_PORT; 0 turns it off)."""
    if not settings.smtp_gateway_port or relais.email_in is None:
        return None
    from .smtp_gateway import start_gateway
    try:
        gateway = start_gateway(relais.email_in, settings.host, settings.smtp_gateway_port,
                                max_bytes=settings.mail_max_bytes)
    except OSError as err:  # the API still serves; mail waits at the sending server
        print(f"  Mail gateway NOT started ({err}): set RELAIS_SMTP_GATEWAY_PORT", flush=True)
        return None
    print(f"  Mail gateway: smtp://{settings.host}:{settings.smtp_gateway_port}"
          f" (ask: {settings.ask_mailbox})", flush=True)
    return gateway


def serve(settings: Settings, *, demo: bool = False) -> int:
    relais = bootstrap(settings)
    if demo and relais.profile_store.get(DEMO_PERSON) is None:
        from .demo import load_demo
        print("Loading the demo organisation...", flush=True)
        # A bulk import indexes once at the end, in batches, rather than after each write.
        loader = bootstrap(dataclasses.replace(settings, index_on_write=False),
                           embedder=relais.embedder)
        print("Loaded:", load_demo(loader), loader.indexer.reindex(), flush=True)
    server = make_server(relais, settings, demo=demo)
    print(f"Relais is running at {settings.base_url}", flush=True)
    print(f"  API description: {settings.base_url}/openapi.json")
    print(f"  Web widget: {settings.base_url}/widget/relais-widget.js"
          + ("" if WIDGET.exists() else " (not built yet: make install)"))
    gateway = start_mail_gateway(relais, settings)
    scheduler = LocalScheduler(relais.jobs, relais.clock)
    scheduler.start()
    print(f"  Escalations every {ESCALATION_EVERY.seconds // 60} minutes; digests at "
          f"{DIGEST_HOUR:02d}:00 on working days ({settings.time_zone})")
    if relais.tokens and relais.profile_store.get(DEMO_PERSON):
        if demo:
            print(f"  Demo intranet page: {settings.base_url}/demo/"
                  f"  (as another person: {settings.base_url}/demo/?as=p115)")
        print(f"  Sign-in token for {DEMO_PERSON} (employee):")
        print("   ", relais.tokens.issue(DEMO_PERSON))
        print("  HR token:", relais.tokens.issue("p000", "hr"))
    print("  Press Ctrl+C to stop.", flush=True)
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop()
        if gateway is not None:
            gateway.stop()
    return 0
