"""Follow-up figures for admins and community managers, as JSON (easy to chart) or CSV.

Per period (`from`/`to`, whole UTC days) and optionally per community: questions asked,
answer rate, median hours to the first and to the accepted answer, the unanswered ones, how
answers spread over departments, how often a question reached a line manager, and how evenly
relays spread over people (Gini). A department is shown only when at least
`figures_min_group_size` people of it answered; smaller ones are merged into "other", so no
small team is singled out.
"""
from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Iterator

from ..auth import Caller
from ..clock import iso
from ..config import Settings
from ..domain import Question
from ..errors import Forbidden, field_error
from ..ports import ProfileStore, QuestionStore
from .communities import CommunityService, parse_time

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
MAX_UNANSWERED = 100
OTHER = "other"
NO_DEPARTMENT = "(none)"
BUCKETS = ("week", "month")
FORMATS = ("json", "csv")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)


def gini(counts: Iterable[int]) -> float:
    """Gini coefficient of non-negative counts: 0 = perfectly even, 1 = one person gets all."""
    values = sorted(counts)
    n = len(values)
    total = sum(values)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum((i + 1) * v for i, v in enumerate(values))
    return round((2 * weighted) / (n * total) - (n + 1) / n, 4)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median_hours(deltas: list[timedelta]) -> float | None:
    if not deltas:
        return None
    return round(statistics.median(d.total_seconds() for d in deltas) / 3600, 2)


def _day(name: str, value: str | None, default: date) -> date:
    if value is None or value == "":
        return default
    if not DATE.match(value):
        raise field_error(name, "a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise field_error(name, "not a valid date") from None
    if not EARLIEST <= day <= LATEST:
        raise field_error(name, f"between {EARLIEST} and {LATEST}")
    return day


def _bucket(moment: datetime, bucket: str) -> str:
    if bucket == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m")


def group_shares(counts: Counter, people: dict[str, set[str]], min_size: int) -> list[dict]:
    """Shares per group, groups of fewer than `min_size` people merged into "other"."""
    total = sum(counts.values())
    shown: list[dict] = []
    other = 0
    for group in sorted(counts, key=lambda g: (-counts[g], g)):
        if group != OTHER and len(people.get(group, ())) >= min_size:
            shown.append({"department": group, "answers": counts[group],
                          "share": _ratio(counts[group], total)})
        else:
            other += counts[group]
    if other:
        shown.append({"department": OTHER, "answers": other, "share": _ratio(other, total)})
    return shown


class FiguresService:
    """Computes the follow-up figures from the records, through the ports only."""

    def __init__(self, settings: Settings, communities: CommunityService,
                 questions: QuestionStore, profiles: ProfileStore, clock):
        self.settings = settings
        self.communities = communities
        self.questions = questions
        self.profiles = profiles
        self.clock = clock

    # Who may see what --------------------------------------------------------------------
    def _authorize(self, caller: Caller, community_id: str | None) -> None:
        if caller.is_admin:
            return
        if community_id is None:
            if self.communities.stewarded(caller):
                raise Forbidden("community managers see the figures of their community: "
                                "give community_id")
            raise Forbidden("figures are for admins and community managers")
        if community_id not in self.communities.stewarded(caller):
            raise Forbidden("figures are for admins and this community's managers")

    # Reading the records -----------------------------------------------------------------
    def _questions(self, community_id: str | None, start: str, end: str) -> Iterator[Question]:
        if community_id is not None:
            ids = self.communities.store.question_ids(community_id, since=start)
            found = self.questions.get_questions(ids)
            for question_id in ids:
                question = found.get(question_id)
                if question is not None and start <= question.created_at < end:
                    yield question
            return
        cursor = None
        while True:  # newest first: stop at the first question older than the period
            page = self.questions.list_questions(limit=100, cursor=cursor)
            for question in page.items:
                if question.created_at < start:
                    return
                if question.created_at < end:
                    yield question
            cursor = page.next_cursor
            if cursor is None:
                return

    # The figures -------------------------------------------------------------------------
    def figures(self, caller: Caller, *, community_id: str | None = None,
                start: str | None = None, end: str | None = None, bucket: str = "month") -> dict:
        """The figures of a period (default: the last 30 days), for one community or all."""
        if bucket not in BUCKETS:
            raise field_error("bucket", "week or month")
        if community_id is not None:
            if not self.communities.modules.is_on("communities"):
                raise field_error("community_id", "communities are switched off here")
            if self.communities.store.get_community(community_id) is None:
                raise field_error("community_id", "no such community")
        self._authorize(caller, community_id)
        today = self.clock.now().astimezone(timezone.utc).date()
        last = _day("to", end, today)
        first = _day("from", start, last - timedelta(days=DEFAULT_DAYS - 1))
        if first > last:
            raise field_error("from", "must not be after `to`")
        if (last - first).days >= MAX_DAYS:
            raise field_error("from", f"a period is at most {MAX_DAYS} days")
        start_iso = iso(datetime.combine(first, time(), timezone.utc))
        end_iso = iso(datetime.combine(last + timedelta(days=1), time(), timezone.utc))
        questions = list(self._questions(community_id, start_iso, end_iso))
        data = self._compute(questions, community_id, bucket)
        community = (self.communities.get(community_id) if community_id else None)
        data["period"] = {"from": first.isoformat(), "to": last.isoformat(), "bucket": bucket}
        data["community"] = {"id": community.id, "name": community.name} if community else None
        if community_id is None and self.communities.modules.is_on("communities"):
            data["by_community"] = self._by_community(questions)
        return data

    def _compute(self, questions: list[Question], community_id: str | None,
                 bucket: str) -> dict:
        now = self.clock.now()
        answers_of = self.questions.answers_for_questions(q.id for q in questions)
        relays_of = self.questions.relays_for_questions(q.id for q in questions)
        people_ids = {a.author_id for answers in answers_of.values() for a in answers}
        people_ids |= {q.asker_id for q in questions if not q.anonymous}
        people = self.profiles.get_many(people_ids)

        first_deltas, accepted_deltas, unanswered = [], [], []
        series: dict[str, Counter] = {}
        for question in questions:
            asked = parse_time(question.created_at)
            answers = answers_of[question.id]
            point = series.setdefault(_bucket(asked, bucket) if asked else "?", Counter())
            point["asked"] += 1
            if answers:
                point["answered"] += 1
                first = parse_time(answers[0].created_at)
                if asked and first:
                    first_deltas.append(first - asked)
            accepted = [a for a in answers if a.accepted]
            if accepted:
                point["accepted"] += 1
                when = parse_time(accepted[0].created_at)
                if asked and when:
                    accepted_deltas.append(when - asked)
            if not answers and question.status != "closed":
                unanswered.append(question)

        # Answers per department of whoever answered (their department today).
        by_department: Counter = Counter()
        contributors: dict[str, set[str]] = {}
        cross = counted = 0
        for question in questions:
            asker = None if question.anonymous else people.get(question.asker_id)
            for answer in answers_of[question.id]:
                author = people.get(answer.author_id)
                department = (author.department if author and not author.deleted else "") \
                    or NO_DEPARTMENT
                by_department[department] += 1
                contributors.setdefault(department, set()).add(answer.author_id)
                # Anonymous questions are left out: their asker's department is not used.
                if asker and asker.department and author and author.department:
                    counted += 1
                    cross += asker.department != author.department
        answers_total = sum(by_department.values())

        relay_counts: Counter = Counter()
        reached_manager = reached_community_manager = 0
        # Questions someone passed on or invited a colleague to: where people knew better
        # than the ranking, or filled in for it.
        by_hand = answered_by_hand = 0
        for question in questions:
            relays = relays_of[question.id]
            relay_counts.update(r.expert_id for r in relays)
            reached_manager += any(r.reason == "escalation_manager" for r in relays)
            reached_community_manager += any(r.reason == "community_manager" for r in relays)
            chosen = [r for r in relays if r.reason in ("invited", "handoff")]
            by_hand += bool(chosen)
            answered_by_hand += any(r.state == "answered" for r in chosen)
        population = dict(relay_counts)
        if community_id is not None:
            for member in self.communities.store.member_ids(community_id):
                population.setdefault(member, 0)

        asked_count = len(questions)
        answered_count = sum(1 for q in questions if answers_of[q.id])
        unanswered.sort(key=lambda q: q.created_at)
        return {
            "questions_asked": asked_count,
            "questions_answered": answered_count,
            "answer_rate": _ratio(answered_count, asked_count),
            "median_hours_to_first_answer": _median_hours(first_deltas),
            "median_hours_to_accepted_answer": _median_hours(accepted_deltas),
            "questions_with_accepted_answer": len(accepted_deltas),
            "unanswered": {"count": len(unanswered), "items": [
                {"id": q.id, "title": q.title, "tags": q.tags, "community_id": q.community_id,
                 "created_at": q.created_at,
                 "age_hours": round((now - parse_time(q.created_at)).total_seconds() / 3600, 1)
                 if parse_time(q.created_at) else None}
                for q in unanswered[:MAX_UNANSWERED]]},
            "answers": answers_total,
            "answers_by_department": group_shares(by_department, contributors,
                                                  self.settings.figures_min_group_size),
            "min_group_size": self.settings.figures_min_group_size,
            "cross_department_answer_share": _ratio(cross, counted),
            "questions_reaching_a_line_manager": reached_manager,
            "line_manager_share": _ratio(reached_manager, asked_count),
            "questions_reaching_a_community_manager": reached_community_manager,
            "community_manager_share": _ratio(reached_community_manager, asked_count),
            "questions_passed_on_by_hand": by_hand,
            "passed_on_by_hand_share": _ratio(by_hand, asked_count),
            "questions_answered_by_someone_passed_to": answered_by_hand,
            "relays": sum(relay_counts.values()),
            "people_relayed": len(relay_counts),
            "relay_gini": gini(population.values()),
            "series": [{"period": key, "asked": point["asked"], "answered": point["answered"],
                        "accepted": point["accepted"]}
                       for key, point in sorted(series.items())],
        }

    def _by_community(self, questions: list[Question]) -> list[dict]:
        asked: Counter = Counter()
        answered: Counter = Counter()
        for question in questions:
            if question.community_id:
                asked[question.community_id] += 1
                answered[question.community_id] += question.answer_count > 0
        rows = []
        for community_id in sorted(asked, key=lambda c: (-asked[c], c)):
            community = self.communities.store.get_community(community_id)
            rows.append({"id": community_id, "name": community.name if community else "",
                         "asked": asked[community_id], "answered": answered[community_id],
                         "answer_rate": _ratio(answered[community_id], asked[community_id])})
        return rows


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(figures: dict) -> str:
    """The figures in long form: one row per (section, label, metric, value)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "label", "metric", "value"])
    period = figures["period"]
    community = figures.get("community") or {}
    writer.writerow(["period", "", "from", period["from"]])
    writer.writerow(["period", "", "to", period["to"]])
    writer.writerow(["period", "", "community", _cell(community.get("name", "all"))])
    for key, value in figures.items():
        if isinstance(value, (int, float)) or value is None:
            writer.writerow(["summary", "", key, "" if value is None else value])
    for row in figures["answers_by_department"]:
        writer.writerow(["department", _cell(row["department"]), "answers", row["answers"]])
        writer.writerow(["department", _cell(row["department"]), "share", row["share"]])
    for row in figures["series"]:
        for metric in ("asked", "answered", "accepted"):
            writer.writerow(["series", row["period"], metric, row[metric]])
    for row in figures.get("by_community", []):
        for metric in ("asked", "answered", "answer_rate"):
            value = row[metric]
            writer.writerow(["community", _cell(row["name"]), metric,
                             "" if value is None else value])
    for item in figures["unanswered"]["items"]:
        writer.writerow(["unanswered", item["id"], "title", _cell(item["title"])])
        writer.writerow(["unanswered", item["id"], "age_hours", item["age_hours"]])
    return out.getvalue()
