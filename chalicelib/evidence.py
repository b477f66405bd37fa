"""Evidence documents: what says a person knows something. Pure functions, no I/O.

- one `skills` document per person (their declared skills),
- one `bio` document per person with a bio,
- one `answer` document per answer, carrying its question (title, body, tags) and the answer.
The kNN vector of an answer document is the embedding of its question, shared by all answers of
that question, so a question is embedded once however many answers it has.
"""
from __future__ import annotations

from .domain import Answer, Profile, Question, normalize_skill
from .ports import EvidenceDoc

MAX_EMBEDDED_CHARS = 2000  # MiniLM reads 256 tokens; longer text only costs time


def skills_doc_id(person_id: str) -> str:
    return f"skills:{person_id}"


def bio_doc_id(person_id: str) -> str:
    return f"bio:{person_id}"


def answer_doc_id(answer_id: str) -> str:
    return f"answer:{answer_id}"


def question_text(title: str, body: str = "", tags=()) -> str:
    """The text a question is searched and embedded by."""
    parts = [title.strip(), body.strip(), " ".join(tags)]
    return "\n".join(p for p in parts if p)[:MAX_EMBEDDED_CHARS]


def tag_token(tag: str) -> str:
    """A tag or skill as one search token ("Machine learning" -> "tagmachinelearning"), so
    that a declared skill and a question's tag match as wholes, apart from free text."""
    return "tag" + "".join(c for c in normalize_skill(tag) if c.isalnum())


def is_indexed(profile: Profile) -> bool:
    """Only active people have evidence in the index; leavers' documents are removed."""
    return profile.active and not profile.deleted


def profile_docs(profile: Profile) -> list[EvidenceDoc]:
    """The documents a profile contributes (without vectors)."""
    docs = []
    if profile.skills:
        docs.append(EvidenceDoc(
            id=skills_doc_id(profile.id), person_id=profile.id, kind="skills",
            text="; ".join(profile.skills),
            tags=[normalize_skill(s) for s in profile.skills], created_at=profile.updated_at))
    if profile.bio.strip():
        docs.append(EvidenceDoc(id=bio_doc_id(profile.id), person_id=profile.id, kind="bio",
                                text=profile.bio.strip(), created_at=profile.updated_at))
    return docs


def answer_doc(question: Question, answer: Answer) -> EvidenceDoc:
    """An answer with its question (without vector)."""
    return EvidenceDoc(
        id=answer_doc_id(answer.id), person_id=answer.author_id, kind="answer",
        text=question_text(question.title, question.body), answer=answer.body,
        tags=list(question.tags), question_id=question.id, accepted=answer.accepted,
        score=answer.score, created_at=answer.created_at)


def embedding_text(doc: EvidenceDoc, question: Question | None = None) -> list[str]:
    """The texts whose (mean) embedding is the document's vector."""
    if doc.kind == "skills":
        return [s for s in doc.text.split("; ") if s]
    if doc.kind == "answer" and question is not None:
        return [question_text(question.title, question.body, question.tags)]
    return [doc.text[:MAX_EMBEDDED_CHARS]]
