"""The demo organisation (chalicelib/demo.py), as `make run` loads it."""
from __future__ import annotations

from chalicelib.demo import load_demo


def test_the_demo_loads_its_history_without_mailing_anyone(relais):
    assert load_demo(relais, count=40) == {"people": 40, "questions": 34}
    questions = relais.question_store.list_questions(limit=100).items
    answered = [q for q in questions if q.accepted_answer_id]
    assert answered  # a history to route on and to show as similar questions
    titles = [q.title for q in questions]
    assert len(titles) == 34 == len(set(titles))  # no question asked twice
    assert relais.mailer.list(limit=10).items == []  # its past answers are not news
