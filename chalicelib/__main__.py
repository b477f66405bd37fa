"""Command line: `python -m chalicelib token <person-id> [--role ...]`, `... serve [--demo]`,
`... upgrade` (after deploying a new version over existing records; idempotent),
`... backup FOLDER` (the embedded profile's data, while it runs), and
`... import-stackexchange FOLDER` (past Q&A from a Stack Exchange dump; idempotent)."""
from __future__ import annotations

import argparse
import sys

from .config import Settings, SettingsError


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
    backup = commands.add_parser("backup", help="copy the embedded profile's data into a new "
                                                "folder, while Relais runs")
    backup.add_argument("folder", help="where the copy goes: a new or empty folder")
    dump = commands.add_parser("import-stackexchange",
                               help="import a Stack Exchange dump's people, questions and "
                                    "answers (Posts.xml, Users.xml); idempotent")
    dump.add_argument("folder", help="the folder holding one site's Posts.xml and Users.xml")
    dump.add_argument("--prefix", default="se-",
                      help="put before the dump's user and post ids (default: se-)")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env(**({"port": args.port} if getattr(args, "port", None)
                                        else {}))
        return run_command(args, settings)
    except SettingsError as error:  # from the environment, or found while wiring services
        print(f"relais: {error}", file=sys.stderr)
        return 2


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "token":
        from .auth import TokenIssuer, token_secret
        print(TokenIssuer(token_secret(settings), settings.token_ttl_hours)
              .issue(args.person_id, args.role))
        return 0
    if args.command == "upgrade":
        return upgrade(settings)
    if args.command == "backup":
        return backup_data(settings, args.folder)
    if args.command == "import-stackexchange":
        return import_stackexchange(settings, args.folder, args.prefix)
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
    print(f"community questions given their change index entry: "
          f"{questions.index_old_community_questions()}")
    print(f"votes given their voter index entry: {questions.index_old_votes()}")
    return 0


def backup_data(settings: Settings, folder: str) -> int:
    """A consistent copy of the database, the token secret and the raw mails."""
    import json

    from .adapters.sqlite_backup import BackupError, back_up

    try:
        report = back_up(settings, folder)
    except BackupError as error:
        print(f"backup: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


def import_stackexchange(settings: Settings, folder: str, prefix: str) -> int:
    """Past Q&A in, then (embedded profile) one reindex; on AWS the stream indexes."""
    import json
    from dataclasses import replace

    from tqdm import tqdm

    from .adapters.stackexchange_dump import read_dump
    from .bootstrap import bootstrap
    from .clock import FixedClock
    from .errors import RelaisError
    from .services.history_import import HistoryImport

    try:
        dump = read_dump(folder, prefix)
    except RelaisError as err:
        print(f"import-stackexchange: {err.message}", file=sys.stderr)
        return 2
    clock = FixedClock()
    relais = bootstrap(replace(settings, index_on_write=False), clock=clock)
    history = HistoryImport(relais.hr_sync, relais.profiles, relais.questions, clock)
    with tqdm(total=len(dump.questions), unit="question", desc="import") as bar:
        report = history.run(dump.people, dump.questions, progress=bar.update)
    result = report.as_dict()
    result["skipped_in_dump"] = dump.skipped
    wrote = (report.people_created + report.questions + report.answers + report.accepted) > 0
    if wrote and settings.index_on_write and relais.indexer is not None:
        result["indexed"] = relais.indexer.reindex()["documents"]
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
