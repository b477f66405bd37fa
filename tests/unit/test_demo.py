"""The demo organisation (chalicelib/demo.py), as `make run` loads it."""
from __future__ import annotations

from chalicelib.demo import load_demo


def test_the_demo_loads_its_history_without_mailing_anyone(relais):
    assert load_demo(relais, count=40) == {"people": 40, "questions": 39}
    answered = [q for q in relais.question_store.list_questions(limit=100).items
                if q.accepted_answer_id]
    assert answered  # a history to route on and to show as similar questions
    assert relais.mailer.list(limit=10).items == []  # its past answers are not news
