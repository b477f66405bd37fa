"""What a relay mail says of why the expert was chosen."""
from __future__ import annotations

from chalicelib.services.notify import why_you


def test_a_relay_mail_says_why_in_words():
    long_title = "How do I " + "really " * 20 + "profile memory?"
    explanation = [
        {"kind": "answer", "text": "Python worker memory keeps growing\nIt grows.",
         "accepted": True, "matched": ["python"]},
        {"kind": "tags", "matched": ["python", "profiling"]},
        {"kind": "skills", "matched": ["Python"]},
        {"kind": "answer", "text": long_title, "accepted": False, "matched": []},
        {"kind": "activity", "matched": []},
        {"kind": "profile", "matched": []},
        {"kind": "unknown-kind", "matched": []},
    ]
    phrases = why_you(explanation)
    assert phrases[:3] == ['you answered "Python worker memory keeps growing" (accepted)',
                           "you often answer on python, profiling", "you declared Python"]
    assert phrases[3].startswith('you answered "How do I really') and phrases[3].endswith('…"')
    assert len(phrases[3]) <= len('you answered ""') + 90
    assert phrases[4:] == ["you answered questions lately",
                           "your answers, taken together, use the question's words"]


def test_a_relay_mail_says_first_why_it_was_not_the_first_choice():
    evidence = [{"kind": "tags", "matched": ["kafka"]}]
    assert why_you(evidence) == why_you(evidence, "match") == ["you often answer on kafka"]
    assert why_you(evidence, "escalation_peer") == [
        "the people asked first did not answer in time", "you often answer on kafka"]
    assert why_you([], "community_manager") == [
        "nobody answered in time, and you manage its community"]
    assert why_you([], "escalation_manager") == [
        "nobody answered in time, and you are the asker's manager"]
