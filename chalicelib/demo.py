"""A synthetic organisation for the demo: departments, sites, a manager tree, skills in
English and French, and answered questions. Deterministic for a given seed."""
from __future__ import annotations

import random

from .auth import Caller
from .bootstrap import Relais
from .domain import normalize_skill
from .schemas import AnswerIn, ProfilePatch, QuestionIn

FIRST = ["Camille", "Louis", "Emma", "Hugo", "Léa", "Lucas", "Chloé", "Gabriel", "Inès", "Jules",
         "Manon", "Arthur", "Sarah", "Noah", "Zoé", "Adam", "Alice", "Raphaël", "Jade", "Nathan",
         "Olivia", "James", "Sophie", "Daniel", "Amira", "Yusuf", "Mei", "Kenji", "Priya", "Omar"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
        "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "García", "Smith", "Jones", "Nguyen",
        "Müller", "Rossi", "Kowalski", "Haddad", "Tanaka", "Singh", "O'Brien", "Fournier"]
SITES = ["Paris", "Lyon", "Toulouse", "Nantes", "London", "Montréal"]
# department -> the topics its people tend to know, each with a question people ask about it
TOPICS = {
    "Engineering": [
        ("Python", "How do I profile a slow Python service in production?"),
        ("Kubernetes", "Why does my Kubernetes pod restart with OOMKilled?"),
        ("PostgreSQL", "How should we index a PostgreSQL table queried by date range?"),
        ("sécurité applicative", "Comment gérer les secrets d'une application sans les commiter ?"),
        ("TypeScript", "How do I type a React hook that fetches data in TypeScript?"),
        ("tests automatisés", "Quelle stratégie de tests automatisés pour une API REST ?"),
    ],
    "Data": [
        ("machine learning", "How do we detect drift in a machine learning model?"),
        ("statistiques", "Quel test statistique pour comparer deux taux de conversion ?"),
        ("SQL", "How do I deduplicate rows in SQL keeping the latest one?"),
        ("data visualisation", "Which chart shows a distribution over time best?"),
    ],
    "Finance": [
        ("comptabilité", "Comment comptabiliser une note de frais en devise étrangère ?"),
        ("budget", "How do I request a budget change mid-year?"),
        ("TVA", "Quel taux de TVA appliquer à une formation en ligne ?"),
    ],
    "People": [
        ("recrutement", "Comment rédiger une offre d'emploi inclusive ?"),
        ("onboarding", "What should a new joiner's first week look like?"),
        ("droit du travail", "Quelles règles pour le télétravail à l'étranger ?"),
    ],
    "Sales": [
        ("négociation", "Comment répondre à un client qui demande une remise de 30 % ?"),
        ("CRM", "How do I merge duplicate accounts in the CRM?"),
        ("appels d'offres", "Comment répondre à un appel d'offres public ?"),
    ],
    "Operations": [
        ("logistique", "Comment réduire les délais de livraison vers le Canada ?"),
        ("achats", "How do I add a new supplier to the purchasing system?"),
        ("qualité", "Comment préparer un audit ISO 9001 ?"),
    ],
}
ANSWER_OPENERS = ["From experience, ", "Ce qui a marché chez nous : ", "Short answer: ",
                  "Deux pistes : ", "We solved this last year: "]


def ascii_name(name: str) -> str:
    """A name as it appears in an email address: no accents, spaces or apostrophes."""
    return "".join(c for c in normalize_skill(name) if c.isalnum())


def demo_people(count: int = 300, seed: int = 7) -> list[dict]:
    """HR records for `count` people with a manager tree per department."""
    rng = random.Random(seed)
    people = [{"id": "p000", "name": "Claire Vasseur", "title": "Chief Executive Officer",
               "grade": "E1", "department": "Direction", "site": "Paris",
               "email": "claire.vasseur@example.com", "languages": ["fr", "en"]}]
    departments = list(TOPICS)
    heads = {}
    for index in range(1, count):
        department = departments[index % len(departments)]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        person_id = f"p{index:03d}"
        if department not in heads:
            heads[department] = [person_id]
            manager, title, grade = "p000", f"Head of {department}", "E2"
        elif len(heads[department]) < 3:
            manager, title, grade = heads[department][0], f"{department} manager", "M1"
            heads[department].append(person_id)
        else:
            manager = rng.choice(heads[department][1:])
            title, grade = f"{department} specialist", rng.choice(["P1", "P2", "P3"])
        people.append({
            "id": person_id, "name": f"{first} {last}", "title": title, "grade": grade,
            "department": department, "manager_id": manager, "site": rng.choice(SITES),
            "email": f"{ascii_name(first)}.{ascii_name(last)}.{index}@example.com",
            "languages": ["fr", "en"] if rng.random() < 0.6 else [rng.choice(["fr", "en"])],
        })
    return people


def load_demo(relais: Relais, count: int = 300, seed: int = 7) -> dict:
    """Load the demo organisation through the services a real import would use."""
    rng = random.Random(seed)
    people = demo_people(count, seed)
    relais.hr_sync.upsert(people)
    topics_of: dict[str, list[tuple[str, str]]] = {}
    for person in people[1:]:
        own = TOPICS[person["department"]]
        other = TOPICS[rng.choice(list(TOPICS))]
        chosen = rng.sample(own, k=min(2, len(own))) + [rng.choice(other)]
        topics_of[person["id"]] = chosen
        skills = list(dict.fromkeys(skill for skill, _ in chosen))
        relais.profiles.edit(Caller(person["id"]), person["id"], ProfilePatch(
            skills=skills,
            bio=f"{person['title']} à {person['site']}. Happy to help with {', '.join(skills)}."))
    ids = [p["id"] for p in people[1:]]
    asked = 0
    for person_id in rng.sample(ids, k=min(60, len(ids))):
        skill, title = rng.choice(topics_of[person_id])
        question = relais.questions.ask(Caller(person_id), QuestionIn(
            title=title, body=f"Context: we hit this in our team around {skill}.",
            tags=[skill.lower().replace(" ", "-")]), route=False)
        experts = [p for p in ids if p != person_id and any(s == skill for s, _ in topics_of[p])]
        answers = []
        for expert in rng.sample(experts, k=min(2, len(experts))):
            # Imported: the demo's past answers are its history, nobody is mailed about them.
            answers.append(relais.questions.answer(Caller(expert), question.id, AnswerIn(
                body=rng.choice(ANSWER_OPENERS) + f"look at how we handle {skill} in the team wiki,"
                " then ping me and we can look at it together."), imported=True))
        if answers:
            relais.questions.accept(Caller(person_id), question.id, answers[0].id)
        asked += 1
    return {"people": len(people), "questions": asked}
