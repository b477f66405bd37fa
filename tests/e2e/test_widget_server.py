"""The local server's pages, without a browser: the widget bundle and the demo host page."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest

from chalicelib import server as server_module
from chalicelib.config import Settings
from tests.conftest import seed_people


@contextmanager
def running(relais, *, demo: bool):
    server = server_module.make_server(relais, Settings(port=0), demo=demo)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server.server_address[1]
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=5)


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


@pytest.fixture
def people(relais):
    seed_people(relais, [
        {"id": "p030", "name": 'Zoë "<script>alert(1)</script>"', "department": "Engineering"},
        {"id": "p031", "name": "Hugo Nguyen", "department": "Data"},
    ])
    return relais


def test_serves_the_built_widget_or_says_how_to_build_it(relais, tmp_path, monkeypatch):
    bundle = tmp_path / "relais-widget.js"
    monkeypatch.setattr(server_module, "WIDGET", bundle)
    with running(relais, demo=False) as url:
        status, kind, body = get(url + "/widget/relais-widget.js")
        assert status == 404 and "make install" in body
        bundle.write_text("customElements.define('relais-widget', class extends HTMLElement {});")
        status, kind, body = get(url + "/widget/relais-widget.js?v=2")
        assert status == 200 and kind.startswith("text/javascript") and "relais-widget" in body
        assert get(url + "/health")[0] == 200  # the API is still answered by Chalice


def test_demo_page_signs_in_the_demo_person_and_escapes(people):
    with running(people, demo=True) as url:
        status, kind, page = get(url + "/demo/")
        assert status == 200 and kind.startswith("text/html")
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
        token = page.split('token="', 1)[1].split('"', 1)[0]
        assert people.tokens.verify(token).id == "p030"
        assert f'src="{people.settings.base_url}/widget/relais-widget.js"' in page
        assert 'tab="ask"' in page

        status, _, page = get(url + "/demo/?as=p031&tab=directory")
        token = page.split('token="', 1)[1].split('"', 1)[0]
        assert people.tokens.verify(token).id == "p031" and 'tab="directory"' in page
        assert 'tab="ask"' in get(url + '/demo/?tab="><script>')[2]
        assert get(url + "/demo/?as=nobody")[0] == 404


def test_no_demo_page_without_demo(people):
    with running(people, demo=False) as url:
        status, kind, _ = get(url + "/demo/")
        assert status in (403, 404) and "json" in kind  # Chalice's answer: no such route


def test_a_path_no_route_has_is_a_404_in_the_error_shape(relais):
    with running(relais, demo=False) as url:
        for path in ("/nope", "/questions/q1/nothing-here", "/widget/other.js"):
            status, content_type, body = get(url + path)
            assert status == 404 and content_type.startswith("application/json"), (path, body)
            error = json.loads(body)["error"]
            assert error["code"] == "not_found" and path.split("?")[0] in error["message"]
        status, _, body = get(url + "/openapi.json")  # the routes themselves still answer
        assert status == 200 and json.loads(body)["paths"]
