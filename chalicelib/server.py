"""The embedded profile's local server: the Chalice app on a threaded HTTP server."""
from __future__ import annotations

from chalice.config import Config
from chalice.local import create_local_server

from .bootstrap import bootstrap
from .config import Settings

DEMO_PERSON = "p030"


def serve(settings: Settings, *, demo: bool = False) -> int:
    import app as app_module

    relais = bootstrap(settings)
    app_module.use(relais)
    if demo and relais.profile_store.get(DEMO_PERSON) is None:
        from .demo import load_demo
        print("Loading the demo organisation...", flush=True)
        print("Loaded:", load_demo(relais), flush=True)
    server = create_local_server(app_module.app, Config(chalice_stage="local"),
                                 settings.host, settings.port)
    print(f"Relais is running at {settings.base_url}", flush=True)
    print(f"  API description: {settings.base_url}/openapi.json")
    if relais.tokens and relais.profile_store.get(DEMO_PERSON):
        print(f"  Sign-in token for {DEMO_PERSON} (employee):")
        print("   ", relais.tokens.issue(DEMO_PERSON))
        print("  HR token:", relais.tokens.issue("p000", "hr"))
    print("  Press Ctrl+C to stop.", flush=True)
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
