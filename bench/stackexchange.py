"""A Stack Exchange dump (one site's Posts.xml and Users.xml) as routing-v1 data, so that the
routing benchmark runs on sites beyond the two given:

    python -m bench.stackexchange FOLDER --out SITE.jsonl
    python -m bench.routing SITE.jsonl --out RANKINGS.jsonl

Kept as the given data was made (../shared/data/README.md): questions with an accepted answer
and at least two answers, text lower-cased with HTML and punctuation removed.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from chalicelib.adapters.stackexchange_dump import read_dump


# The link targets the import's HTML reading writes after a link's text (" <https://...>"):
# the given data was made from the posts' text alone.
LINK_TARGET = re.compile(r" <(?:https?://[^<>\s]*|[^<>\s@]+@[^<>\s]+)>")


def plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", LINK_TARGET.sub("", text).lower()).split())


def routing_rows(folder: str | Path, site: str) -> list[dict]:
    """One routing-v1 line per kept question, in id order."""
    rows = []
    for question in read_dump(folder, person_prefix="").questions:
        answers = question.answers
        accepted = next((a for a in answers if a.id == question.accepted_answer_id), None)
        if accepted is None or len(answers) < 2:
            continue
        rows.append({
            "site": site, "question_id": int(question.id[1:]), "asker_id": int(question.asker_id),
            "title": plain(question.title), "body": plain(question.body),
            "tags": list(question.tags), "accepted_answer_id": int(accepted.id[1:]),
            "accepted_answerer_id": int(accepted.author_id),
            "answers": [{"answer_id": int(a.id[1:]), "answerer_id": int(a.author_id),
                         "text": plain(a.body)} for a in answers]})
    return sorted(rows, key=lambda row: row["question_id"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stackexchange", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="one site's dump: Posts.xml (and Users.xml)")
    parser.add_argument("--out", required=True, help="routing-v1 data file (JSON lines)")
    parser.add_argument("--site", help="the site's name (default: the folder's)")
    args = parser.parse_args(argv)
    rows = routing_rows(args.folder, args.site or Path(args.folder).name)
    with open(args.out, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    print(json.dumps({"questions": len(rows), "answers": sum(len(r["answers"]) for r in rows)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
