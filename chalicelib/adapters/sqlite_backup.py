"""A backup of the embedded profile's data while Relais runs: the database copied page by page
through SQLite's online backup (a consistent snapshot, whatever is written meanwhile), the
token secret, and the raw mails kept for the inbound log."""
from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from ..auth import SECRET_FILE
from ..config import Settings
from .mail import MAIL_FOLDER

COUNTED = ("profiles", "questions", "answers", "relays", "evidence")


class BackupError(Exception):
    """Why no backup was made (nothing was written)."""


def back_up(settings: Settings, destination: str) -> dict:
    """Copy everything the embedded profile keeps into the new folder `destination`, check the
    copy, and say what it holds. Restoring is copying these files back into RELAIS_DATA_DIR
    while Relais is stopped."""
    if settings.backend != "embedded":
        raise BackupError("only the embedded profile keeps its data in files; on AWS the "
                          "tables have point-in-time recovery (docs/deploy.md)")
    source = Path(settings.database)
    if settings.database == ":memory:" or not source.is_file():
        raise BackupError(f"there is no database at {source} (RELAIS_DATA_DIR, RELAIS_DB_PATH)")
    target = Path(destination)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} already exists and is not an empty folder: a backup never "
                          "writes over another")
    target.mkdir(parents=True, exist_ok=True)
    copy = target / source.name  # restored by copying it back where it came from
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(copy)) as snapshot:
        live.backup(snapshot)
        checked = snapshot.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {row[0] for row in snapshot.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        counts = {name: snapshot.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
                  for name in COUNTED if name in tables}
    if checked != "ok":
        raise BackupError(f"the copy in {copy} failed SQLite's integrity check: {checked}")
    data = Path(settings.data_dir)
    files = [source.name]
    if (data / SECRET_FILE).is_file():
        shutil.copy2(data / SECRET_FILE, target / SECRET_FILE)
        files.append(SECRET_FILE)
    if (data / MAIL_FOLDER).is_dir():
        shutil.copytree(data / MAIL_FOLDER, target / MAIL_FOLDER)
        files.append(MAIL_FOLDER + "/")
    return {"folder": str(target), "files": files, "records": counts,
            "bytes": sum(f.stat().st_size for f in target.rglob("*") if f.is_file())}
