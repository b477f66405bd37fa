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
# department -> the topics its people tend to know, each with questions people ask about it
# (each asked once: a real history rarely holds the same question twice)
TOPICS = {
    "Engineering": [
        ("Python", ["How do I profile a slow Python service in production?",
                    "Which Python version should new services start on?",
                    "How do I package a Python tool for the whole team?"]),
        ("Kubernetes", ["Why does my Kubernetes pod restart with OOMKilled?",
                        "How do I roll back a Kubernetes deployment safely?",
                        "Comment limiter le CPU d'un pod Kubernetes ?"]),
        ("PostgreSQL", ["How should we index a PostgreSQL table queried by date range?",
                        "Comment sauvegarder une base PostgreSQL sans arrêter le service ?",
                        "Why is autovacuum so slow on our largest PostgreSQL table?"]),
        ("sécurité applicative", ["Comment gérer les secrets d'une application sans les commiter ?",
                                  "How do I fix a SQL injection flagged by the scanner?",
                                  "Quelle politique de mots de passe pour une application interne ?"]),
        ("TypeScript", ["How do I type a React hook that fetches data in TypeScript?",
                        "Should we turn on strict mode in an old TypeScript codebase?",
                        "Comment partager des types TypeScript entre front et back ?"]),
        ("tests automatisés", ["Quelle stratégie de tests automatisés pour une API REST ?",
                               "How do I stop flaky end-to-end tests from blocking releases?",
                               "Comment mesurer la couverture de tests utile ?"]),
    ],
    "Data": [
        ("machine learning", ["How do we detect drift in a machine learning model?",
                              "Comment expliquer une prédiction de modèle à un client ?",
                              "How much labelled data do we need for a first classifier?"]),
        ("statistiques", ["Quel test statistique pour comparer deux taux de conversion ?",
                          "How long should an A/B test run before we decide?",
                          "Comment présenter un intervalle de confiance à la direction ?"]),
        ("SQL", ["How do I deduplicate rows in SQL keeping the latest one?",
                 "Comment calculer une moyenne glissante en SQL ?",
                 "Why does my SQL join return more rows than expected?"]),
        ("data visualisation", ["Which chart shows a distribution over time best?",
                                "Quelles couleurs pour un graphique lisible par les daltoniens ?",
                                "How do I show a budget against actuals on one chart?"]),
    ],
    "Finance": [
        ("comptabilité", ["Comment comptabiliser une note de frais en devise étrangère ?",
                          "When is an invoice booked in the previous month?",
                          "Comment traiter un avoir fournisseur reçu en retard ?"]),
        ("budget", ["How do I request a budget change mid-year?",
                    "Comment répartir un budget d'équipe entre deux projets ?",
                    "Who approves spending over the team budget?"]),
        ("TVA", ["Quel taux de TVA appliquer à une formation en ligne ?",
                 "Comment récupérer la TVA sur un achat fait à l'étranger ?",
                 "Do we charge VAT to a customer in another EU country?"]),
    ],
    "People": [
        ("recrutement", ["Comment rédiger une offre d'emploi inclusive ?",
                         "How many interview rounds are too many?",
                         "Comment faire un retour à un candidat non retenu ?"]),
        ("onboarding", ["What should a new joiner's first week look like?",
                        "Comment choisir un parrain pour un nouvel arrivant ?",
                        "Which accounts must be ready before a new joiner's first day?"]),
        ("droit du travail", ["Quelles règles pour le télétravail à l'étranger ?",
                              "Combien de jours de congés peut-on reporter sur l'année suivante ?",
                              "What notice period applies when an employee resigns?"]),
    ],
    "Sales": [
        ("négociation", ["Comment répondre à un client qui demande une remise de 30 % ?",
                         "How do I negotiate a multi-year contract renewal?",
                         "Comment défendre notre prix face à un concurrent moins cher ?"]),
        ("CRM", ["How do I merge duplicate accounts in the CRM?",
                 "Comment suivre une opportunité partagée entre deux commerciaux ?",
                 "Which CRM fields must be filled before a deal is closed?"]),
        ("appels d'offres", ["Comment répondre à un appel d'offres public ?",
                             "How do we decide whether a tender is worth answering?",
                             "Quels documents joindre à une candidature d'appel d'offres ?"]),
    ],
    "Operations": [
        ("logistique", ["Comment réduire les délais de livraison vers le Canada ?",
                        "How do we ship hazardous goods by air?",
                        "Comment organiser un inventaire annuel sans fermer l'entrepôt ?"]),
        ("achats", ["How do I add a new supplier to the purchasing system?",
                    "Comment lancer une consultation pour un achat de plus de 40 000 € ?",
                    "Who signs a purchase order above my approval limit?"]),
        ("qualité", ["Comment préparer un audit ISO 9001 ?",
                     "How do we record a customer complaint as a non-conformity?",
                     "Comment rédiger une procédure qualité que les équipes lisent vraiment ?"]),
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
    topics_of: dict[str, list[tuple[str, list[str]]]] = {}
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
    unasked = {skill: list(titles) for topics in TOPICS.values() for skill, titles in topics}
    asked = 0
    for person_id in rng.sample(ids, k=min(60, len(ids))):
        skill, _ = rng.choice(topics_of[person_id])
        if not unasked[skill]:
            continue  # each of the demo's questions is asked once
        title = unasked[skill].pop(0)
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
