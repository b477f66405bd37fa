"""Follow-up figures: per period and per community, as JSON and CSV, for admins and the
community's managers; departments shown only for groups of at least 5 people."""
from __future__ import annotations

import csv
import io
from collections import Counter

import pytest

from bench.metrics import gini
from chalicelib.auth import Caller
from chalicelib.domain import Relay
from chalicelib.schemas import AnswerIn, QuestionIn
from tests.api.test_communities import ADMIN, fields_of, make_community
from tests.conftest import seed_people

OPS = [f"o{i}" for i in range(1, 7)]  # 6 people: shown
DATA = [f"d{i}" for i in range(1, 6)]  # exactly 5: shown
LEGAL = ["l1", "l2"]  # 2 people: merged into "other"
INJECTION = '=HYPERLINK("http://evil.example")'


@pytest.fixture
def world(api, clock):
    """Five questions over four days; three in a community (C), two answered there."""
    relais = api.relais
    seed_people(relais, [
        {"id": "adm", "name": "Ada Admin"}, {"id": "hr1", "name": "Hana HR"},
        {"id": "boss", "name": "Big Boss"},
        {"id": "a1", "name": "Ann Asker", "department": "Sales"},
        {"id": "a2", "name": "Al Asker", "department": "Ops", "manager_id": "boss"},
        {"id": "cm", "name": "Cora Manager"}, {"id": "cl", "name": "Carl Lead"},
        {"id": "xm", "name": "Xavier Elsewhere"},
        *[{"id": p, "name": f"Ops {p}", "department": "Ops"} for p in OPS],
        *[{"id": p, "name": f"Data {p}", "department": "Data"} for p in DATA],
        *[{"id": p, "name": f"Legal {p}", "department": "Legal"} for p in LEGAL]])
    cid = make_community(api, "Streaming")
    other = make_community(api, "Tax")
    api.put(f"/communities/{cid}/roles/cm", {"role": "manager"}, **ADMIN)
    api.put(f"/communities/{cid}/roles/cl", {"role": "lead"}, **ADMIN)
    api.put(f"/communities/{other}/roles/xm", {"role": "manager"}, **ADMIN)
    for member in ("o1", "d1"):
        api.post(f"/communities/{cid}/membership", person=member)

    def ask(asker, title, community=None, anonymous=False):
        data = QuestionIn(title=title, community_id=community, anonymous=anonymous)
        return relais.communities.ask(Caller(asker), data, relais.questions).id

    def answer(person, question_id):
        return relais.questions.answer(Caller(person), question_id, AnswerIn(body="Try this.")).id

    q1 = ask("a1", "kafka consumer lag", cid)  # Monday 2026-01-05 09:00
    clock.advance(hours=1)
    answer("o1", q1)  # first answer after 1 h
    clock.advance(hours=2)
    relais.questions.accept(Caller("a1"), q1, answer("d1", q1))  # accepted after 3 h
    clock.advance(hours=21)
    q2 = ask("a1", "kafka partitions", cid)  # 2026-01-06 09:00
    clock.advance(hours=2)
    relais.questions.accept(Caller("a1"), q2, answer("o2", q2))  # first and accepted: 2 h
    clock.advance(hours=22)
    q3 = ask("a2", "quarterly close")  # 2026-01-07 09:00, no community
    clock.advance(hours=5)
    for person in OPS[2:] + DATA[1:] + LEGAL:
        answer(person, q3)  # first answer after 5 h
    relais.question_store.put_relay(Relay(question_id=q3, expert_id="boss",
                                          reason="escalation_manager",
                                          created_at="2026-01-07T20:00:00Z"))
    relais.question_store.put_relay(Relay(question_id=q3, expert_id=LEGAL[0],
                                          reason="handoff", invited_by="o3", state="answered",
                                          created_at="2026-01-07T12:00:00Z"))
    clock.advance(hours=19)
    q4 = ask("a1", "kafka connect offsets", cid)  # 2026-01-08 09:00, unanswered
    q5 = ask("a2", INJECTION, anonymous=True)  # unanswered, anonymous
    api.ids = dict(cid=cid, other=other, q1=q1, q2=q2, q3=q3, q4=q4, q5=q5)
    return api


def relay_gini(relais, question_ids, extra=()) -> float:
    counts = Counter(r.expert_id for q in question_ids
                     for r in relais.question_store.relays_for_question(q))
    for person in extra:
        counts.setdefault(person, 0)
    return gini(counts.values())


def test_figures_of_all_communities(world):
    response = world.get("/figures", **ADMIN)
    assert response.status_code == 200
    figures = response.json
    ids = world.ids
    assert figures["period"] == {"from": "2025-12-10", "to": "2026-01-08", "bucket": "month"}
    assert figures["community"] is None
    assert figures["questions_asked"] == 5 and figures["questions_answered"] == 3
    assert figures["answer_rate"] == 0.6
    assert figures["median_hours_to_first_answer"] == 2.0  # 1, 2, 5
    assert figures["median_hours_to_accepted_answer"] == 2.5  # 3, 2
    assert figures["unanswered"]["count"] == 2
    assert {q["id"] for q in figures["unanswered"]["items"]} == {ids["q4"], ids["q5"]}
    assert all("asker" not in q and "asker_id" not in q for q in figures["unanswered"]["items"])
    assert figures["answers"] == 13
    assert figures["questions_reaching_a_line_manager"] == 1
    assert figures["line_manager_share"] == 0.2
    assert (figures["questions_passed_on_by_hand"], figures["passed_on_by_hand_share"],
            figures["questions_answered_by_someone_passed_to"]) == (1, 0.2, 1)
    # a1 (Sales) got 3 answers from Ops/Data; a2 (Ops) 10, of which 6 from other departments
    assert figures["cross_department_answer_share"] == round(9 / 13, 4)
    assert figures["relay_gini"] == relay_gini(world.relais, [ids[f"q{i}"] for i in range(1, 6)])
    assert figures["series"] == [{"period": "2026-01", "asked": 5, "answered": 3,
                                  "accepted": 2}]
    assert figures["by_community"] == [{"id": ids["cid"], "name": "Streaming", "asked": 3,
                                        "answered": 2, "answer_rate": 0.6667}]


def test_small_departments_are_merged_into_other(world):
    shares = world.get("/figures", **ADMIN).json["answers_by_department"]
    assert shares == [
        {"department": "Ops", "answers": 6, "share": round(6 / 13, 4)},
        {"department": "Data", "answers": 5, "share": round(5 / 13, 4)},  # 5 people: shown
        {"department": "other", "answers": 2, "share": round(2 / 13, 4)}]
    assert "Legal" not in str(world.get("/figures?format=json", **ADMIN).json)


def test_a_community_managers_figures(world):
    ids = world.ids
    figures = world.get(f"/figures?community_id={ids['cid']}", person="cm").json
    assert figures["community"] == {"id": ids["cid"], "name": "Streaming"}
    assert figures["questions_asked"] == 3 and figures["questions_answered"] == 2
    assert figures["answer_rate"] == 0.6667
    assert figures["median_hours_to_first_answer"] == 1.5
    assert [q["id"] for q in figures["unanswered"]["items"]] == [ids["q4"]]
    # Ops and Data each gave answers here through fewer than five people: "other" only.
    assert figures["answers_by_department"] == [{"department": "other", "answers": 3,
                                                 "share": 1.0}]
    assert figures["relay_gini"] == relay_gini(world.relais, [ids["q1"], ids["q2"], ids["q4"]],
                                               extra=["o1", "d1"])
    assert "by_community" not in figures


def test_a_period_counts_only_its_questions(world):
    figures = world.get("/figures?from=2026-01-07&to=2026-01-08&bucket=week", **ADMIN).json
    assert figures["questions_asked"] == 3
    assert figures["series"] == [{"period": "2026-W02", "asked": 3, "answered": 1,
                                  "accepted": 0}]
    early = world.get("/figures?from=2026-01-05&to=2026-01-05", **ADMIN).json
    assert early["questions_asked"] == 1 and early["median_hours_to_accepted_answer"] == 3.0
    empty = world.get("/figures?from=2025-01-01&to=2025-01-31", **ADMIN).json
    assert empty["questions_asked"] == 0 and empty["answer_rate"] is None
    assert empty["median_hours_to_first_answer"] is None and empty["relay_gini"] == 0.0


@pytest.mark.parametrize("person, role, query, expected", [
    ("a1", "employee", "", 403),
    ("a1", "employee", "?community_id={cid}", 403),
    ("hr1", "hr", "", 403),
    ("cm", "employee", "?community_id={cid}", 200),
    ("cl", "employee", "?community_id={cid}", 200),
    ("cm", "employee", "", 403),  # a community manager sees their community, not all
    ("xm", "employee", "?community_id={cid}", 403),  # another community's manager
    ("adm", "admin", "", 200),
    ("adm", "admin", "?community_id={other}", 200),
])
def test_who_sees_figures(world, person, role, query, expected):
    response = world.get("/figures" + query.format(**world.ids), person=person, role=role)
    assert response.status_code == expected, response.json
    if expected == 403:
        assert response.json["error"]["code"] == "forbidden"


@pytest.mark.parametrize("query, field", [
    ("from=2026-13-01", "from"),
    ("from=yesterday", "from"),
    ("to=2026-02-30", "to"),
    ("to=9999-12-31", "to"),
    ("to=0001-01-01", "to"),
    ("from=\u0662\u0660\u0662\u0666-01-01", "from"),
    ("from=2026-01-08&to=2026-01-01", "from"),
    ("from=2020-01-01&to=2026-01-08", "from"),
    ("format=xml", "format"),
    ("bucket=day", "bucket"),
    ("community_id=nope", "community_id"),
    ("since=2026-01-01", "since"),
])
def test_figure_query_errors_name_the_field(world, query, field):
    response = world.get(f"/figures?{query}", **ADMIN)
    assert response.status_code == 422
    assert fields_of(response) == [field]


def csv_rows(api, query="") -> tuple[dict, list[list[str]]]:
    response = api.client.http.get(f"/figures?format=csv{query}",
                                   headers=api.headers("adm", "admin"))
    assert response.status_code == 200
    return response.headers, list(csv.reader(io.StringIO(response.body.decode())))


def test_figures_as_csv(world):
    headers, rows = csv_rows(world)
    assert headers["Content-Type"].startswith("text/csv")
    assert rows[0] == ["section", "label", "metric", "value"]
    assert ["summary", "", "questions_asked", "5"] in rows
    assert ["summary", "", "answer_rate", "0.6"] in rows
    assert ["department", "other", "answers", "2"] in rows
    assert not any(row[1] == "Legal" for row in rows)
    assert ["series", "2026-01", "asked", "5"] in rows
    assert ["community", "Streaming", "asked", "3"] in rows
    titles = [row[3] for row in rows if row[0] == "unanswered" and row[2] == "title"]
    assert "'" + INJECTION in titles  # a spreadsheet shows it, never runs it
    _, per_community = csv_rows(world, f"&community_id={world.ids['cid']}")
    assert ["period", "", "community", "Streaming"] in per_community
    assert ["summary", "", "questions_asked", "3"] in per_community
