"""Command line: `python -m chalicelib token <person-id> [--role ...]` and `... serve [--demo]`."""
from __future__ import annotations

import argparse
import sys

from .config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a bearer token (embedded profile)")
    token.add_argument("person_id")
    token.add_argument("--role", choices=["employee", "hr", "admin"], default="employee")
    serve = commands.add_parser("serve", help="serve the API locally")
    serve.add_argument("--demo", action="store_true", help="load the demo organisation if empty")
    serve.add_argument("--port", type=int)
    args = parser.parse_args(argv)

    settings = Settings.from_env(**({"port": args.port} if getattr(args, "port", None) else {}))
    if args.command == "token":
        from .auth import TokenIssuer, token_secret
        print(TokenIssuer(token_secret(settings), settings.token_ttl_hours)
              .issue(args.person_id, args.role))
        return 0
    from .server import serve as run_server
    return run_server(settings, demo=args.demo)


if __name__ == "__main__":
    sys.exit(main())
