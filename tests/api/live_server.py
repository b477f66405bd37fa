"""The real local HTTP server (chalice.local, threaded) serving a given Relais, for tests that
need real sockets: concurrent clients, schemathesis."""
from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager

from chalice.config import Config
from chalice.local import LocalChalice, LocalDevServer, create_local_server

import app as app_module


class LiveServer:
    """A running server and a tiny JSON client for it."""

    def __init__(self, url: str, relais):
        self.url = url
        self.relais = relais

    def request(self, method: str, path: str, body=None, *, token: str | None = None):
        """(status, parsed JSON body) of one request."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


@contextmanager
def live_server(relais):
    """Serve `relais` on a free local port for the duration of the block."""
    app_module.use(relais)
    config = Config(chalice_stage="local")
    if isinstance(app_module.app, LocalChalice):
        # create_local_server already made the app thread-safe (once per process: it swaps
        # the app's class, and a second swap would make an inheritance cycle).
        server = LocalDevServer(app_module.app, config, "127.0.0.1", 0)
    else:
        server = create_local_server(app_module.app, config, "127.0.0.1", 0)
    # The handler writes headers and body separately: without TCP_NODELAY (inherited by the
    # accepted sockets) each response waits ~40 ms for the client's delayed ACK.
    server.server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server.server_address[:2]
        yield LiveServer(f"http://{host}:{port}", relais)
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=5)
