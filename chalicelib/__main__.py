"""Command line: `python -m chalicelib token <person-id> [--role ...]`, `... serve [--demo]`, and
`... upgrade` (after deploying a new version over existing records; idempotent)."""
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
    commands.add_parser("upgrade", help="bring existing records up to this version (idempotent)")
    args = parser.parse_args(argv)

    settings = Settings.from_env(**({"port": args.port} if getattr(args, "port", None) else {}))
    if args.command == "token":
        from .auth import TokenIssuer, token_secret
        print(TokenIssuer(token_secret(settings), settings.token_ttl_hours)
              .issue(args.person_id, args.role))
        return 0
    if args.command == "upgrade":
        return upgrade(settings)
    from .server import serve as run_server
    return run_server(settings, demo=args.demo)


def upgrade(settings: Settings) -> int:
    """What a new version needs of records written by an older one. The embedded profile
    migrates its SQLite schema itself when it opens the database."""
    if settings.backend != "aws":
        print("embedded profile: nothing to do (the database is migrated when opened)")
        return 0
    from .bootstrap import aws_stores

    _, questions = aws_stores(settings)
    print(f"votes given their voter index entry: {questions.index_old_votes()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
