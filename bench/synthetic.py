"""A synthetic company for performance benchmarks: people with skills, and past answers.

Texts come from fixed pools (topics x phrasings), as in a real company where the same skills
and kinds of question recur; the pools bound how many distinct texts need embedding.
"""
from __future__ import annotations

import random

SUBJECTS = ["kubernetes", "postgresql", "python", "kafka", "terraform", "react", "typescript",
            "spark", "airflow", "tableau", "excel", "sap", "salesforce", "jira", "confluence",
            "docker", "linux", "networking", "vpn", "sso", "okta", "payroll", "expenses", "vat",
            "budget", "forecast", "invoicing", "procurement", "contracts", "gdpr", "security",
            "pentest", "backup", "monitoring", "grafana", "prometheus", "elasticsearch", "redis",
            "graphql", "rest api", "android", "ios", "figma", "accessibility", "seo", "crm",
            "recruiting", "onboarding", "training", "logistics", "warehouse", "customs",
            "quality", "iso 9001", "lean", "six sigma", "negotiation", "pricing", "tenders",
            "statistics", "machine learning", "forecasting", "dashboards", "sql", "dbt",
            "comptabilité", "fiscalité", "droit du travail", "télétravail", "paie", "achats",
            "sécurité", "qualité", "réseau", "formation", "recrutement", "logistique"]
ACTIONS = ["configure", "debug", "migrate", "speed up", "monitor", "secure", "automate", "test",
           "document", "scale", "audit", "budget for", "roll out", "clean up", "back up"]
CONTEXTS = ["in production", "for a new team", "after the upgrade", "across regions",
            "with limited access", "for the quarterly report", "during the audit",
            "for a customer demo", "on a tight deadline", "with legacy data"]
ANSWER_WORDS = ("check the logs first then compare settings with the reference setup ask the "
                "platform team for access use the runbook the wiki page explains the steps "
                "we had the same issue last quarter the fix was a config change restart the "
                "service after applying it measure before and after").split()


def question_pool(size: int, rng: random.Random) -> list[str]:
    pool = set()
    while len(pool) < size:
        subject, other = rng.sample(SUBJECTS, 2)
        pool.add(f"How do we {rng.choice(ACTIONS)} {subject} {rng.choice(CONTEXTS)} "
                 f"when {other} is involved?")
    return sorted(pool)


def company(people: int, answers_per_person: float = 3.0, seed: int = 42,
            distinct_questions: int = 3000):
    """Yield ("person", id, skills) and ("answer", id, person_id, question_text, answer_text,
    tags, accepted) tuples, deterministic for a seed."""
    rng = random.Random(seed)
    pool = question_pool(min(distinct_questions, max(50, people)), rng)
    for index in range(people):
        yield ("person", f"s{index}", rng.sample(SUBJECTS, 5))
    tags_of = {q: [s for s in SUBJECTS if s in q][:3] for q in pool}
    for index in range(int(people * answers_per_person)):
        question = rng.choice(pool)
        tags = list(tags_of[question])
        yield ("answer", f"sa{index}", f"s{rng.randrange(people)}", question,
               " ".join(rng.choices(ANSWER_WORDS, k=25)), tags, rng.random() < 0.3)
