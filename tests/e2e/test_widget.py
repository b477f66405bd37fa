"""The web widget in a real browser (Debian's chromium, driven by Playwright) against the real
local server (`python -m chalicelib serve --demo`) with the demo organisation.

The widget is embedded in a page of another origin (a second tiny server on localhost), the way
an intranet would embed it: one <script> tag and one <relais-widget> element.
Set RELAIS_SCREENSHOTS=docs/screenshots to refresh the README's screenshots. While working on the
widget, RELAIS_E2E_URL=http://127.0.0.1:8000 (with RELAIS_E2E_SECRET set to the server's
RELAIS_TOKEN_SECRET) runs the tests against a server already running, skipping the demo load."""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chalicelib.auth import TokenIssuer
from tests.net import free_port

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

# The first test also waits for the server to load the demo organisation (minutes on 2 cores).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "frontend" / "dist" / "relais-widget.js"
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECRET = os.environ.get("RELAIS_E2E_SECRET", "widget-e2e-secret-" + "0123456789abcdef" * 2)
ASKER = "p030"  # Engineering, Nantes; the demo's signed-in person
SERVER_START_TIMEOUT = 900  # loading and indexing the demo organisation takes minutes on 2 cores

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (make test installs it)", allow_module_level=True)
if not BUNDLE.exists():
    pytest.skip("the widget is not built (make install builds it)", allow_module_level=True)


# The server, tokens and a small JSON client -----------------------------------------------------
class Server:
    def __init__(self, url: str):
        self.url = url
        self.tokens = TokenIssuer(SECRET)

    def token(self, person: str, role: str = "employee") -> str:
        return self.tokens.issue(person, role)

    def call(self, method: str, path: str, body=None, *, person: str = ASKER,
             role: str = "employee"):
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", "Bearer " + self.token(person, role))
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{method} {path}: {err.code} {err.read()[:500]!r}") from None


@pytest.fixture(scope="session")
def server():
    if os.environ.get("RELAIS_E2E_URL"):  # a server already running with RELAIS_TOKEN_SECRET set
        yield Server(os.environ["RELAIS_E2E_URL"].rstrip("/"))
        return
    data_dir = tempfile.mkdtemp(prefix="relais-e2e-")
    port = free_port()
    env = {**os.environ, "RELAIS_DATA_DIR": data_dir, "RELAIS_TOKEN_SECRET": SECRET,
           "RELAIS_DB_PATH": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    log_path = Path(data_dir) / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib", "serve", "--demo", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError("the server stopped:\n" + log_path.read_text()[-3000:])
            try:
                urllib.request.urlopen(url + "/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(1)
        yield Server(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    # Playwright gives chromium a fresh, empty user data dir of its own.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: RELAIS_SCREENSHOTS (docs/screenshots for the README) or a temp dir."""
    folder = Path(os.environ.get("RELAIS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Intranet</title>
<script src="{api}/widget/relais-widget.js"></script>
<style>body {{ margin: 0; font-family: sans-serif; background: #f3f4f6 }} main {{ padding: 12px }}</style>
</head><body><main>{element}</main></body></html>"""


@pytest.fixture(scope="session")
def intranet():
    """Host pages on another origin (localhost, another port), as an intranet would embed the
    widget. A real server: chromium lets a page reach the loopback API only from loopback."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.pages = pages
    httpd.url = f"http://localhost:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def open_widget(browser, server, intranet):
    """open_widget(person, lang=..., width=...) -> an intranet page showing the widget."""
    contexts = []

    def open_(person: str | None = ASKER, *, lang: str = "en", width: int = 1100, height: int = 900,
              locale: str = "en-GB", element: str | None = None, before=None):
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda err: page.errors.append(str(err)))
        if before:
            before(page)
        if element is None:
            attrs = f' api="{server.url}"' + (f' token="{server.token(person)}"' if person else "")
            attrs += f' lang="{lang}"' if lang else ""
            element = f"<relais-widget{attrs}></relais-widget>"
        path = f"/page-{uuid.uuid4().hex}.html"
        intranet.pages[path] = HOST_PAGE.format(api=server.url, element=element).encode()
        page.goto(intranet.url + path)
        page.locator("relais-widget [role=tab]").first.wait_for()
        return page

    yield open_
    for context in contexts:
        context.close()


def tab(page, name: str):
    page.get_by_role("tab", name=name).click()
    return page.locator("relais-widget [role=tabpanel]:not([hidden])")


def deep(page, script: str):
    """Evaluates `script` (a function of a list of every element, shadow trees included)."""
    return page.evaluate("""(body) => {
        const all = [];
        const walk = (root) => root.querySelectorAll('*').forEach((el) => {
            all.push(el); if (el.shadowRoot) walk(el.shadowRoot); });
        walk(document);
        return new Function('all', body)(all);
    }""", script)


def ask_draft(page, title: str, body: str = "", tags: str = ""):
    """Fill the form, and return once the experts suggested for the whole draft have come
    back: on a busy machine the fields can be filled more than a debounce apart, and the
    suggestions that come first are then those of a part of the draft."""
    def for_the_whole_draft(response) -> bool:
        if not response.url.endswith("/suggestions/experts"):
            return False
        sent = json.loads(response.request.post_data or "{}")
        return (sent.get("title"), sent.get("body"), len(sent.get("tags") or [])) == (
            title.strip(), body.strip(), len([t for t in tags.split(",") if t.strip()]))

    with page.expect_response(for_the_whole_draft, timeout=120_000):
        page.get_by_label("Your question").fill(title)
        if body:
            page.get_by_label("Details (optional, Markdown)").fill(body)
        if tags:
            page.get_by_label("Tags (optional, separated by commas)").fill(tags)


def wait_for_suggestions(page):
    page.locator("relais-ask [role=status]").filter(has_text="suggested expert").wait_for(timeout=60_000)
    page.locator("relais-ask li.expert").first.wait_for()


# The bundle and the demo page -------------------------------------------------------------------
def test_the_bundle_is_served_and_within_its_budget(server):
    with urllib.request.urlopen(server.url + "/widget/relais-widget.js") as response:
        assert response.status == 200
        assert "javascript" in response.headers["Content-Type"]
        bundle = response.read()
    assert len(gzip.compress(bundle)) <= 60 * 1024
    assert b"relais-widget" in bundle


def test_the_demo_page_embeds_the_widget_signed_in(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    try:
        page.goto(server.url + "/demo/?tab=profile")
        page.get_by_role("heading", name="My profile").wait_for()
        assert page.get_by_label("Site").input_value() == "Nantes"  # p030's own profile
        assert "Gabriel Haddad" in page.locator("nav").inner_text()
    finally:
        page.close()


# Ask -> suggestions -> relayed -> "for me" -> answer -> the asker sees and accepts it ----------
def test_ask_relay_answer_accept(server, open_widget, shots):
    asker = open_widget(ASKER)
    title = f"How do I profile memory in a slow Python service? ({uuid.uuid4().hex[:6]})"
    ask_draft(asker, title, "Our **worker** grows to 2 GB after a day.", "python")
    wait_for_suggestions(asker)
    experts = asker.locator("relais-ask li.expert")
    assert experts.count() >= 1
    assert experts.first.locator("ul.why li").count() >= 1  # each suggestion says why
    # the best expert's why names Python: a declared skill or a tag they answer on (a chip),
    # or a past answer of theirs on it (its question's title); which of these make the three
    # heaviest pieces of evidence can change with the words of the title
    assert "python" in experts.first.locator("ul.why").inner_text().lower()
    similar = asker.locator("relais-ask ul.similar")
    assert "How do I profile a slow Python service in production?" in similar.inner_text()
    asker.screenshot(path=shots / "ask-suggestions.png", full_page=True)

    asker.get_by_role("button", name="Ask", exact=True).click()
    detail = asker.locator("relais-question")
    detail.get_by_role("heading", name=title).wait_for()
    assert detail.locator("[data-status]").inner_text() == "open"
    assert detail.locator(".md strong").inner_text() == "worker"

    question = next(q for q in server.call("GET", "/questions?mine=true")["items"]
                    if q["title"] == title)
    relays = server.call("GET", f"/questions/{question['id']}/relays")["items"]
    assert relays, "the question was relayed to nobody"
    expert = relays[0]["expert"]
    detail.locator("li.relay").first.wait_for()
    assert expert["name"] in detail.locator("ul.relays").inner_text()

    helper = open_widget(expert["id"])
    inbox = tab(helper, "For me")
    card = inbox.locator("li.relay-item", has_text=title)
    card.wait_for()
    assert card.locator("ul.why li").count() >= 1  # why you
    helper.screenshot(path=shots / "for-me.png", full_page=True)
    card.get_by_role("button", name="Answer", exact=True).click()
    card.get_by_label("Your answer (plain text or Markdown)").fill(
        "Use `tracemalloc` and compare **two snapshots** an hour apart.")
    card.get_by_role("button", name="Send the answer").click()
    helper.locator("relais-inbox .notice").filter(has_text="Your answer was sent.").wait_for()
    assert helper.locator("relais-inbox li.relay-item", has_text=title).count() == 0

    detail.get_by_role("button", name="Refresh").click()
    answer = detail.locator("li.answer")
    answer.wait_for()
    assert answer.locator(".md strong").inner_text() == "two snapshots"
    assert expert["name"] in answer.locator(".meta").inner_text()
    assert "answered" in detail.locator("ul.relays").inner_text()
    answer.get_by_role("button", name="Accept this answer").click()
    detail.locator("li.answer.accepted").wait_for()
    assert detail.locator("[data-status]").inner_text() == "answered"
    assert server.call("GET", f"/questions/{question['id']}")["accepted_answer_id"]
    assert not asker.errors and not helper.errors


def test_a_suggestion_made_only_for_being_active_says_so(server, open_widget):
    # Nobody in the demo wrote or declared anything on parking bikes: whoever is suggested
    # is suggested for being active lately, and the card says it.
    page = open_widget(ASKER)
    ask_draft(page, "Where can I park my bike at the office?")
    wait_for_suggestions(page)
    experts = page.locator("relais-ask li.expert")
    said = "Suggested for being active lately: little on this topic yet"
    assert experts.first.get_by_text(said).is_visible()
    suggested = server.call("POST", "/suggestions/experts",
                            {"title": "Where can I park my bike at the office?"})["experts"]
    assert suggested and not any(e["on_topic"] for e in suggested)
    ask_draft(page, "How do I profile a slow Python service in production?", tags="python")
    wait_for_suggestions(page)
    assert experts.first.get_by_text(said).count() == 0


def test_anonymous_question_hides_the_asker_from_the_expert(server, open_widget):
    asker = open_widget(ASKER)
    title = f"Quel test statistique pour comparer deux taux de conversion ? ({uuid.uuid4().hex[:6]})"
    ask_draft(asker, title)
    asker.get_by_label("Ask anonymously (the experts will not see your name)").check()
    asker.get_by_role("button", name="Ask", exact=True).click()
    asker.locator("relais-question").get_by_role("heading", name=title).wait_for()
    question = next(q for q in server.call("GET", "/questions?mine=true")["items"] if q["title"] == title)
    assert question["anonymous"] is True
    expert = server.call("GET", f"/questions/{question['id']}/relays")["items"][0]["expert"]
    helper = open_widget(expert["id"])
    card = tab(helper, "For me").locator("li.relay-item", has_text=title)
    card.wait_for()
    assert "Asked by Anonymous" in card.inner_text()
    assert "Gabriel" not in card.inner_text()


def test_decline_and_snooze_pass_the_question_on(server, open_widget):
    question = server.call("POST", "/questions", {
        "title": f"Comment préparer un audit ISO 9001 ? ({uuid.uuid4().hex[:6]})", "body": "",
        "tags": ["qualité"], "anonymous": False})
    relays = server.call("GET", f"/questions/{question['id']}/relays")["items"]
    first, second = relays[0]["expert"]["id"], relays[1]["expert"]["id"]

    page = open_widget(first)
    card = tab(page, "For me").locator("li.relay-item", has_text=question["title"])
    card.get_by_role("button", name="Decline").click()
    page.locator("relais-inbox .notice").filter(has_text="Declined").wait_for()

    page = open_widget(second)
    card = tab(page, "For me").locator("li.relay-item", has_text=question["title"])
    card.get_by_label("Snooze for").select_option("72")
    card.get_by_role("button", name="Snooze").click()
    page.locator("relais-inbox .notice").filter(has_text="Snoozed").wait_for()
    page.locator("relais-inbox li.relay-item", has_text=question["title"]).locator(
        ".badge", has_text="snoozed").wait_for()

    after = server.call("GET", f"/questions/{question['id']}/relays")["items"]
    states = {r["expert"]["id"]: r["state"] for r in after}
    assert states[first] == "declined" and states[second] == "snoozed"

    # Whoever got it next is told why it came to them, not only why they know the topic.
    rerouted = [r["expert"]["id"] for r in after if r["reason"] == "reroute"]
    assert len(rerouted) == 2
    page = open_widget(rerouted[0])
    card = tab(page, "For me").locator("li.relay-item", has_text=question["title"])
    assert card.locator(".relay-reason").inner_text() == (
        "Someone asked before you could not take it.")
    page = open_widget(rerouted[0], lang="fr")
    card = tab(page, "Pour moi").locator("li.relay-item", has_text=question["title"])
    assert card.locator(".relay-reason").inner_text() == (
        "Une personne sollicitée avant vous n'a pas pu la prendre.")


def colleague_to_ask(server, question_id: str, also_not=()) -> dict:
    """Someone who can be asked the question by name: not asked yet, not its asker, in
    routing, not away, and with no open question (other tests relay questions too)."""
    asked = {r["expert"]["id"] for r in
             server.call("GET", f"/questions/{question_id}/relays")["items"]}
    people = server.call("GET", "/profiles?limit=100")["items"]
    return next(p for p in people if p["id"] not in asked | {ASKER, *also_not}
                and not p["routing_opt_out"] and not p["away_until"] and not p["muted_tags"]
                and not server.call("GET", "/relays?state=open&limit=1",
                                    person=p["id"])["items"])


def choose_colleague(scope, person: dict, note: str, submit: str, shot: Path | None = None):
    picker = scope.locator("relais-colleague-picker")
    picker.get_by_label("Colleague's name").fill(person["name"])
    picker.get_by_role("button", name=person["name"], exact=True).click()
    picker.get_by_label("A word for them (optional)").fill(note)
    if shot:
        scope.page.screenshot(path=shot, full_page=True)
    picker.get_by_role("button", name=f"{submit} {person['name']}").click()


def test_a_relayed_question_is_passed_to_a_colleague_who_is_told_by_whom(server, open_widget,
                                                                          shots):
    question = server.call("POST", "/questions", {
        "title": f"Who signs off a supplier's ISO certificate? ({uuid.uuid4().hex[:6]})",
        "body": "", "tags": ["qualité"], "anonymous": False})
    first = server.call("GET", f"/questions/{question['id']}/relays")["items"][0]["expert"]
    colleague = colleague_to_ask(server, question["id"])

    page = open_widget(first["id"])
    card = tab(page, "For me").locator("li.relay-item", has_text=question["title"])
    card.get_by_role("button", name="Pass to a colleague").click()
    choose_colleague(card, colleague, "She audits our suppliers.", "Pass to",
                     shot=shots / "pass-on.png")
    page.locator("relais-inbox .notice").filter(has_text="Passed on").wait_for()
    assert page.locator("relais-inbox li.relay-item", has_text=question["title"]).count() == 0

    relays = {r["expert"]["id"]: r for r in
              server.call("GET", f"/questions/{question['id']}/relays")["items"]}
    assert relays[first["id"]]["state"] == "declined"
    assert relays[colleague["id"]]["reason"] == "handoff"
    assert not [r for r in relays.values() if r["reason"] == "reroute"]  # no automatic next
    page = open_widget(colleague["id"])
    card = tab(page, "For me").locator("li.relay-item", has_text=question["title"])
    assert card.locator(".relay-reason").inner_text() == (
        f"{first['name']} was asked and passed it to you.")
    assert card.locator(".relay-note").inner_text() == "She audits our suppliers."
    page = open_widget(colleague["id"], lang="fr")
    card = tab(page, "Pour moi").locator("li.relay-item", has_text=question["title"])
    assert card.locator(".relay-reason").inner_text() == (
        f"{first['name']} a été sollicité·e et vous l'a transmise.")
    assert page.errors == []


def test_the_asker_invites_a_colleague_and_a_refusal_says_why(server, open_widget):
    title = f"Can we reuse last year's safety training slides? ({uuid.uuid4().hex[:6]})"
    question = server.call("POST", "/questions", {"title": title, "body": "", "tags": [],
                                                  "anonymous": False})
    colleague = colleague_to_ask(server, question["id"])
    away = colleague_to_ask(server, question["id"], also_not=[colleague["id"]])
    server.call("PATCH", f"/profiles/{away['id']}", {"away_until": "2099-01-01"},
                person=away["id"])
    try:
        page = open_widget(ASKER)
        tab(page, "My questions").get_by_role("button", name=title).click()
        detail = page.locator("relais-question")
        detail.get_by_role("button", name="Invite a colleague to answer").click()
        choose_colleague(detail, away, "", "Invite")
        detail.locator("relais-colleague-picker .error").filter(
            has_text="they are away until 2099-01-01").wait_for()
        choose_colleague(detail, colleague, "You gave that training.", "Invite")
        detail.locator(".notice", has_text="Invitation sent.").wait_for()
        detail.locator("li.relay", has_text=colleague["name"]).locator(
            ".invited-by", has_text="invited by you").wait_for()
    finally:
        server.call("PATCH", f"/profiles/{away['id']}", {"away_until": None},
                    person=away["id"])
    mine = server.call("GET", "/relays?state=open", person=colleague["id"])["items"]
    assert [r["note"] for r in mine if r["question_id"] == question["id"]] == [
        "You gave that training."]
    assert page.errors == []


# Hostile content: no script ever runs ---------------------------------------------------------
HOSTILE = "\n\n".join([
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "[click me](javascript:window.__pwned='markdown-link')",
    "<a href=\"javascript:window.__pwned='html-link'\">html link</a>",
    "<a href=\"JaVaScRiPt:window.__pwned='mixed-case'\">mixed case</a>",
    "<svg><animate onbegin=\"window.__pwned='svg'\" attributeName=\"x\" dur=\"1s\"></animate></svg>",
    "<iframe src=\"javascript:parent.__pwned='iframe'\"></iframe>",
    "<details open ontoggle=\"window.__pwned='toggle'\"><summary>s</summary>x</details>",
    "<form action=\"javascript:window.__pwned='form'\"><button>go</button></form>",
    "![img](x\" onerror=\"window.__pwned='md-img')",
    "**still bold**",
])


def assert_nothing_ran(page):
    page.wait_for_timeout(800)  # give any injected handler (onerror, ontoggle) a chance to fire
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    found = deep(page, """
        const bad = [];
        for (const el of all) {
            if (el.tagName === 'SCRIPT' && !el.src.endsWith('/widget/relais-widget.js')) bad.push('script');
            if (el.closest('.md') && ['IFRAME', 'FORM', 'BUTTON', 'OBJECT', 'EMBED', 'STYLE'].includes(el.tagName))
                bad.push(el.tagName + ' in Markdown');
            for (const attr of el.attributes) {
                if (attr.name.startsWith('on')) bad.push(el.tagName + ' ' + attr.name);
                if (/^\\s*javascript:/i.test(attr.value)) bad.push(el.tagName + ' ' + attr.name + '=' + attr.value);
            }
        }
        return bad;""")
    assert found == []


def test_hostile_markdown_never_runs_a_script(server, open_widget):
    def watch(page):
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))

    title = f"<img src=x onerror=alert(1)> hostile <script>alert(2)</script> {uuid.uuid4().hex[:6]}"
    inbox_title = f"Hostile body, open relay {uuid.uuid4().hex[:6]}"
    question = server.call("POST", "/questions", {"title": title, "body": HOSTILE, "tags": [],
                                                  "anonymous": False})
    expert = server.call("GET", f"/questions/{question['id']}/relays")["items"][0]["expert"]["id"]
    server.call("POST", f"/questions/{question['id']}/answers", {"body": HOSTILE}, person=expert)

    # The expert's inbox renders the question body ...
    other = server.call("POST", "/questions", {"title": inbox_title, "body": HOSTILE,
                                               "tags": [], "anonymous": False})
    other_expert = server.call("GET", f"/questions/{other['id']}/relays")["items"][0]["expert"]["id"]
    page = open_widget(other_expert, before=watch)
    card = tab(page, "For me").locator("li.relay-item", has_text=inbox_title)
    card.locator(".md strong", has_text="still bold").wait_for()
    assert_nothing_ran(page)

    # ... and the asker's view renders the title as text, the body and the answer as Markdown.
    page = open_widget(ASKER, before=watch)
    tab(page, "My questions").get_by_role("button", name=title).click()
    detail = page.locator("relais-question")
    detail.get_by_role("heading", name=title).wait_for()  # shown literally, as text
    assert detail.locator(".md strong", has_text="still bold").count() == 2
    detail.get_by_text("click me").first.click()
    detail.get_by_text("html link").first.click()
    assert_nothing_ran(page)
    # The sanitizer itself, on the same input.
    clean = page.evaluate("(s) => RelaisWidget.toSafeHtml(s)", HOSTILE)
    assert not re.search(r"<(script|iframe|form|svg)\b", clean, re.I)
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", clean, re.I)  # no event handler attribute
    assert not re.search(r"=\s*[\"']?\s*javascript:", clean, re.I)  # no javascript: URL
    assert "<strong>still bold</strong>" in clean


# Directory and profile --------------------------------------------------------------------------
def test_directory_search_profile_cards_and_meeting(server, open_widget, shots):
    page = open_widget("p041")
    panel = tab(page, "Directory")
    panel.locator("li.person").first.wait_for()
    expected = server.call("GET", "/profiles?q=Kubernetes&limit=1")["total"]
    panel.get_by_label("Name, skill or any words").fill("Kubernetes")  # searched as one types
    panel.locator("[role=status]", has_text=f"{expected} people").wait_for()
    profile_id = panel.locator("li.person", has_text="Kubernetes").first.get_attribute("data-person")
    card = panel.locator(f'li.person[data-person="{profile_id}"]')
    person = server.call("GET", f"/profiles/{profile_id}")
    text = card.inner_text()
    assert person["name"] in text and person["site"] in text
    assert "Languages: " + ", ".join(lang.upper() for lang in person["languages"]) in text
    write = card.get_by_role("link", name="Write").get_attribute("href")
    assert write.startswith("mailto:" + person["email"] + "?subject=Relais")
    coffee = card.get_by_role("link", name="Propose a coffee").get_attribute("href")
    assert "subject=Coffee" in coffee and "body=" in coffee
    ics = card.get_by_role("link", name="Calendar invite (.ics)")
    assert ics.get_attribute("download").endswith(".ics")
    invite = urllib.parse.unquote(ics.get_attribute("href"))
    assert invite.startswith("data:text/calendar") and "BEGIN:VEVENT" in invite
    assert f"LOCATION:{person['site']}" in invite
    # What the person's answers show, on demand.
    toggle = card.get_by_role("button", name="What their answers show")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    shown = card.locator("p.answered")
    shown.wait_for()
    inferred = server.call("GET", f"/profiles/{profile_id}/expertise")["inferred"][:8]
    assert shown.inner_text() == (", ".join(f"{e['tag']} ({e['answers']})" for e in inferred)
                                  or "No answers yet.")
    assert toggle.get_attribute("aria-expanded") == "true"
    page.screenshot(path=shots / "directory.png", full_page=False)

    # A skill chip filters the directory by that skill.
    card.get_by_role("button", name="Show people with the skill Kubernetes").click()
    assert panel.get_by_label("Skill", exact=True).input_value() == "Kubernetes"
    panel.locator("li.person").first.wait_for()
    skilled = server.call("GET", "/profiles?skill=Kubernetes&limit=1")["total"]
    panel.locator("[role=status]", has_text=f"{skilled} people").wait_for()


def test_edit_my_profile_skills_leave_routing_and_away(server, open_widget, shots):
    person = "p052"
    before = server.call("GET", f"/profiles/{person}", person=person)
    page = open_widget(person)
    panel = tab(page, "My profile")
    panel.get_by_label("About me").fill("I like *queues* and coffee.")
    removed = before["skills"][0]
    panel.get_by_role("button", name=f"Remove {removed}").click()
    panel.get_by_label("Add a skill").fill("Rust")
    panel.get_by_label("Add a skill").press("Enter")
    panel.get_by_label("Site").fill("Lyon")
    panel.get_by_label("Languages (codes separated by commas, e.g. fr, en)").fill("fr, en, es")
    panel.get_by_label("Leave routing: do not relay questions to me (I stay in the directory)").check()
    panel.get_by_label("Away until").fill("2031-05-04")
    page.screenshot(path=shots / "profile-edit.png", full_page=True)
    panel.get_by_role("button", name="Save").click()
    panel.locator(".notice", has_text="Profile saved.").wait_for()

    after = server.call("GET", f"/profiles/{person}", person=person)
    assert after["bio"] == "I like *queues* and coffee."
    assert "Rust" in after["skills"] and removed not in after["skills"]
    assert after["site"] == "Lyon" and after["languages"] == ["fr", "en", "es"]
    assert after["routing_opt_out"] is True and after["away_until"] == "2031-05-04"
    assert after["version"] > before["version"]

    # Shown again from the server after a reload; clearing "away until" sends null.
    page.reload()
    panel = tab(page, "My profile")
    assert panel.get_by_label("Site").input_value() == "Lyon"
    assert panel.get_by_label("Leave routing: do not relay questions to me (I stay in the directory)").is_checked()
    panel.get_by_label("Away until").fill("")
    panel.get_by_role("button", name="Save").click()
    panel.locator(".notice", has_text="Profile saved.").wait_for()
    assert server.call("GET", f"/profiles/{person}", person=person)["away_until"] is None


def test_what_my_answers_show_can_be_declared_or_muted(server, open_widget, shots):
    # A demo person whose answers show two tags, who has not declared any skill yet.
    for number in range(1, 120):
        person = f"p{number:03d}"
        seen = server.call("GET", f"/profiles/{person}/expertise", person=person)
        if len(seen["inferred"]) >= 2:
            break
    else:
        raise AssertionError("the demo has nobody whose answers show two tags")
    server.call("PATCH", f"/profiles/{person}", {"skills": []}, person=person)
    first, declare, mute = seen["inferred"][0], seen["inferred"][0]["tag"], seen["inferred"][1]["tag"]
    page = open_widget(person)
    panel = tab(page, "My profile")
    row = panel.locator(f'li.inferred-tag[data-tag="{first["tag"]}"]')
    row.wait_for()
    answers = "1 answer" if first["answers"] == 1 else f"{first['answers']} answers"
    assert f"{answers}, {first['accepted']} accepted" in row.inner_text()
    panel.locator(f'li.inferred-tag[data-tag="{declare}"]').get_by_role(
        "button", name="Add to my skills").click()
    panel.get_by_label(f"No questions on {mute}").check()
    page.screenshot(path=shots / "profile-expertise.png", full_page=True)
    panel.get_by_role("button", name="Save").click()
    panel.locator(".notice", has_text="Profile saved.").wait_for()

    after = server.call("GET", f"/profiles/{person}", person=person)
    assert after["skills"] == [declare.replace("-", " ")] and after["muted_tags"] == [mute]
    shown = {e["tag"]: e for e in server.call("GET", f"/profiles/{person}/expertise")["inferred"]}
    assert shown[mute]["muted"] is True and shown[declare]["declared"] is True
    # Shown again after a reload; unmuting sends the empty list.
    page.reload()
    panel = tab(page, "My profile")
    box = panel.get_by_label(f"No questions on {mute}")
    assert box.is_checked()
    box.uncheck()
    panel.get_by_role("button", name="Save").click()
    panel.locator(".notice", has_text="Profile saved.").wait_for()
    assert server.call("GET", f"/profiles/{person}", person=person)["muted_tags"] == []


def test_watch_tags_and_read_mail_once_a_day(server, open_widget, shots):
    person, tag = "p061", f"e2e-{uuid.uuid4().hex[:6]}"
    address = server.call("GET", f"/profiles/{person}", person=person)["email"]

    def mails(kind: str) -> list[dict]:
        items = server.call("GET", f"/admin/outbox?limit=100&recipient={urllib.parse.quote(address)}",
                            person="admin", role="admin")["items"]
        return [m for m in items if m["kind"] == kind]

    def ask(title: str) -> None:
        server.call("POST", "/questions", {"title": title, "tags": [tag]}, person=ASKER)

    page = open_widget(person)
    panel = tab(page, "My profile")
    panel.get_by_label("Tags I watch").fill(f"{tag.upper()}, budget")
    assert panel.get_by_label("Mail from Relais").input_value() == "immediate"
    panel.get_by_role("button", name="Save").click()
    panel.locator(".notice", has_text="Profile saved.").wait_for()
    assert server.call("GET", f"/profiles/{person}", person=person)["watched_tags"] == [tag, "budget"]
    first = f"Who owns the {tag} budget?"
    ask(first)
    assert [m["subject"] for m in mails("watch")] == [f"[Relais] New question on {tag}: {first}"]

    panel.get_by_label("Mail from Relais").select_option(label="Once a day, in one digest")
    page.screenshot(path=shots / "profile-watch.png", full_page=True)
    panel.get_by_role("button", name="Save").click()
    panel.locator(".notice", has_text="Profile saved.").wait_for()
    assert server.call("GET", f"/profiles/{person}", person=person)["notify"] == "daily"
    second = f"Where is the {tag} budget sheet?"
    ask(second)
    assert len(mails("watch")) == 1  # held for the digest
    server.call("POST", "/admin/mail/digests", person="admin", role="admin")
    assert any(second in m["text"] for m in mails("digest"))
    page.reload()
    panel = tab(page, "My profile")
    assert panel.get_by_label("Tags I watch").input_value() == f"{tag}, budget"
    assert panel.get_by_label("Mail from Relais").input_value() == "daily"

    # "For me" lists the open questions on the tags I watch (the first was not relayed to me:
    # its watch mail came); one opens the question.
    inbox = tab(page, "For me")
    watched = inbox.locator("section.watched li.watched-item", has_text=first)
    watched.wait_for()
    assert tag in watched.locator("ul.chips").inner_text()
    watched.get_by_role("button", name=first).click()
    page.locator("relais-question").get_by_role("heading", name=first).wait_for()
    assert not page.errors


# My data: download it, delete it ------------------------------------------------------------
def test_download_then_delete_my_data(server, open_widget):
    person = f"e2e-{uuid.uuid4().hex[:6]}"
    server.call("POST", "/hr/profiles", {"profiles": [
        {"id": person, "name": "Dana Leaving", "email": f"{person}@example.com"}]},
        person="hr", role="hr")
    question = server.call("POST", "/questions", {"title": f"Where are the {person} invoices?"},
                           person=person)
    page = open_widget(person)
    panel = tab(page, "My profile")
    with page.expect_download() as info:
        panel.get_by_role("button", name="Download my data").click()
    assert info.value.suggested_filename == "relais-my-data.json"
    data = json.loads(Path(info.value.path()).read_text())
    assert data["profile"]["id"] == person and data["profile"]["name"] == "Dana Leaving"
    assert [q["title"] for q in data["questions"]] == [question["title"]]
    panel.locator(".notice", has_text="Your data was downloaded").wait_for()

    panel.get_by_role("button", name="Delete my data…").click()
    panel.get_by_role("button", name="Cancel").click()  # changed their mind: nothing happens
    assert server.call("GET", "/me", person=person)["name"] == "Dana Leaving"
    panel.get_by_role("button", name="Delete my data…").click()
    panel.get_by_text("This cannot be undone.").wait_for()
    panel.get_by_role("button", name="Delete my data", exact=True).click()
    panel.locator("[role=status]", has_text="Your data was deleted").wait_for()
    with pytest.raises(AssertionError, match="404"):
        server.call("GET", "/me", person=person)
    kept = server.call("GET", f"/questions/{question['id']}")
    assert kept["title"] == question["title"]  # what they asked stays, for the others
    assert not page.errors


def test_an_export_too_large_for_a_response_downloads_from_its_link(server, open_widget):
    # On AWS an export over 4 MB comes as a link to a file in S3 (tests/unit/
    # test_downloads_s3.py): here the API's real answer is turned into that shape on its way
    # to the browser, and the link's host stands for S3.
    files = "https://files.example.test/exports/"
    kept = {}

    def as_link(route):
        response = route.fetch()
        kept["body"] = response.body()
        data = response.json()
        route.fulfill(response=response, json={
            "format": data["format"], "exported_at": data["exported_at"],
            "download": {"url": files + "a1b2.json", "expires_at": "2030-01-01T00:15:00Z",
                         "bytes": len(kept["body"]), "filename": "relais-my-data.json"}})

    def from_s3(route):
        route.fulfill(body=kept["body"], headers={
            "Content-Type": "application/json",
            "Content-Disposition": 'attachment; filename="relais-my-data.json"'})

    page = open_widget(ASKER, before=lambda page: (page.route("**/me/export", as_link),
                                                   page.route(files + "**", from_s3)))
    panel = tab(page, "My profile")
    with page.expect_download() as info:
        panel.get_by_role("button", name="Download my data").click()
    assert info.value.url == files + "a1b2.json"
    assert info.value.suggested_filename == "relais-my-data.json"
    data = json.loads(Path(info.value.path()).read_text())
    assert data["profile"]["id"] == ASKER and data["format"] == "relais-export-v1"
    panel.locator(".notice", has_text="Your data was downloaded").wait_for()
    assert not page.errors


# Languages, keyboard, accessibility, small screens, token providers ---------------------------
def test_french_from_the_browser_and_switchable(open_widget):
    page = open_widget(ASKER, lang="", locale="fr-FR")
    assert page.get_by_role("tab", name="Demander").get_attribute("aria-selected") == "true"
    assert page.get_by_role("tab", name="Pour moi").is_visible()
    page.get_by_label("Votre question").fill("Comment comptabiliser une note de frais en devise ?")
    page.locator("relais-ask [role=status]").filter(has_text="experts suggérés").wait_for(timeout=60_000)
    page.get_by_label("Langue").select_option("en")
    assert page.get_by_role("tab", name="Ask").is_visible()
    assert page.get_by_label("Your question").input_value().startswith("Comment")  # draft kept
    page.locator("relais-ask [role=status]").filter(has_text="suggested experts").wait_for()


def test_tabs_work_with_the_keyboard(open_widget):
    page = open_widget(ASKER)
    page.get_by_role("tab", name="Ask").focus()
    page.keyboard.press("ArrowRight")
    mine = page.get_by_role("tab", name="My questions")
    assert mine.get_attribute("aria-selected") == "true"
    assert mine.evaluate("(el) => el.getRootNode().activeElement === el")
    page.keyboard.press("End")
    assert page.get_by_role("tab", name="My profile").get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowRight")  # wraps around
    assert page.get_by_role("tab", name="Ask").get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Home")
    assert page.get_by_role("tab", name="Ask").get_attribute("tabindex") == "0"
    assert page.get_by_role("tab", name="My profile").get_attribute("tabindex") == "-1"
    panel = page.locator("#panel-ask")
    assert panel.get_attribute("role") == "tabpanel"
    assert panel.get_attribute("aria-labelledby") == "tab-ask"


def axe_violations(page) -> list[dict]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact,
            nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is installed by npm ci in frontend/")
def test_axe_finds_no_serious_or_critical_violation(server, open_widget):
    page = open_widget(ASKER)
    ask_draft(page, "How do I index a PostgreSQL table queried by date range?")
    wait_for_suggestions(page)
    problems = {"ask": axe_violations(page)}
    for name, ready in [("My questions", "relais-mine li.card, relais-mine .meta"),
                        ("For me", "relais-inbox ul, relais-inbox .meta"),
                        ("Directory", "relais-directory li.person"),
                        ("My profile", "relais-profile form")]:
        tab(page, name)
        page.locator(ready).first.wait_for()
        problems[name] = axe_violations(page)
    page.goto(server.url + "/demo/")
    page.locator("relais-widget [role=tab]").first.wait_for()
    problems["demo page"] = axe_violations(page)
    assert all(not found for found in problems.values()), problems


def test_usable_at_360_px(open_widget, shots):
    page = open_widget(ASKER, width=360, height=780)
    ask_draft(page, "Comment répondre à un appel d'offres public ?")
    wait_for_suggestions(page)
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 360, f"the page scrolls sideways ({overflow} px)"
    box = page.locator("relais-widget").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    submit = page.get_by_role("button", name="Ask", exact=True)
    submit.scroll_into_view_if_needed()
    assert submit.is_visible()
    page.screenshot(path=shots / "mobile-360.png", full_page=False)
    tab(page, "Directory").locator("li.person").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_token_from_a_host_function_or_property(server, open_widget):
    token = server.token("p077")
    element = f'<relais-widget api="{server.url}" tab="profile"></relais-widget>'
    page = open_widget(element=element, before=lambda p: p.add_init_script(
        f"window.relaisToken = async () => {json.dumps(token)};"))
    page.get_by_label("Site").wait_for()
    assert page.locator("relais-profile .meta").first.inner_text().startswith(
        server.call("GET", "/profiles/p077")["name"])

    page = open_widget(element=f'<relais-widget api="{server.url}"></relais-widget>')
    page.evaluate("""(token) => { const w = document.querySelector('relais-widget');
        w.tokenProvider = () => Promise.resolve(token); w.tab = 'profile'; }""", server.token("p078"))
    page.locator("relais-profile form").wait_for()
    assert page.locator("relais-profile .meta").first.inner_text().startswith(
        server.call("GET", "/profiles/p078")["name"])

    page = open_widget(element=f'<relais-widget api="{server.url}" token="not-a-token" tab="inbox"></relais-widget>')
    page.locator("relais-inbox .error", has_text="Sign-in needed").wait_for()
