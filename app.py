"""Chalice entry point: routes only. Each parses, calls one service, and returns a view."""
from __future__ import annotations

from chalice import Chalice, Response

from chalicelib import views
from chalicelib.auth import identify
from chalicelib.bootstrap import Relais, bootstrap
from chalicelib.errors import Forbidden
from chalicelib.http import PAGING, Query, RouteTable, page_body
from chalicelib.schemas import Accept, AnswerEdit, AnswerIn, HrSync, ProfilePatch, QuestionIn, Vote

app = Chalice(app_name="relais")
_relais: Relais | None = None


def relais() -> Relais:
    """The wired application, built on first use (import time is Lambda cold-start time)."""
    global _relais
    if _relais is None:
        _relais = bootstrap()
    return _relais


def use(instance: Relais) -> None:
    """Serve `instance` (tests and the local runner build their own)."""
    global _relais
    _relais = instance


api = RouteTable(app,
                 identify=lambda request: identify(request.headers, request.context,
                                                   relais().tokens),
                 max_body_bytes=lambda: relais().settings.max_body_bytes)


def require_hr(call) -> None:
    if not call.caller.is_hr:
        raise Forbidden("this needs the hr or admin role")


def show_profile(call, profile):
    return views.profile_view(profile, call.caller)


# Service ---------------------------------------------------------------------------------
@api.route("/health", summary="Liveness; needs no token and loads no model.", tag="service",
           auth=False)
def health(call):
    return {"status": "ok", "backend": relais().settings.backend}


@api.route("/openapi.json", summary="This API's OpenAPI 3 description.", tag="service", auth=False)
def openapi(call):
    from chalicelib.openapi import describe
    return describe(api.specs)


# Directory -------------------------------------------------------------------------------
@api.route("/me", summary="The caller's own profile.", tag="directory")
def me(call):
    return show_profile(call, relais().profiles.get(call.caller.id))


@api.route("/profiles", summary="Search the directory by name, skill or free text.",
           tag="directory", query=[Query("q", description="Name, skill or any words."),
                                   Query("skill", description="Only people with this skill."),
                                   *PAGING])
def search_profiles(call):
    page = relais().profiles.search(text=call.query.get("q", ""), skill=call.query.get("skill", ""),
                                    limit=call.query.get("limit", 20),
                                    cursor=call.query.get("cursor"))
    return page_body(page, lambda p: show_profile(call, p))


@api.route("/profiles/{profile_id}", summary="One profile.", tag="directory")
def get_profile(call, profile_id):
    return show_profile(call, relais().profiles.get(profile_id))


@api.route("/profiles/{profile_id}", "PATCH", body=ProfilePatch, tag="directory",
           summary="Edit a profile: your own fields, or HR fields with the hr role.")
def edit_profile(call, profile_id):
    return show_profile(call, relais().profiles.edit(call.caller, profile_id, call.body))


# HR sync ---------------------------------------------------------------------------------
@api.route("/hr/profiles", "POST", body=HrSync, tag="hr",
           summary="Bulk upsert of up to 1,000 profiles, idempotent, with a report per item.")
def hr_sync(call):
    require_hr(call)
    return relais().hr_sync.upsert(call.body.profiles)


# Questions and answers -------------------------------------------------------------------
def show_question(call, question, with_answers: bool = False) -> dict:
    service = relais().questions
    answers = service.answers(question.id) if with_answers else []
    people = relais().profile_store.get_many([question.asker_id, *(a.author_id for a in answers)])
    data = views.question_view(question, call.caller, people)
    if with_answers:
        data["answers"] = [views.answer_view(a, call.caller, people) for a in answers]
    return data


def show_answer(call, answer) -> dict:
    people = relais().profile_store.get_many([answer.author_id])
    return views.answer_view(answer, call.caller, people)


@api.route("/questions", "POST", body=QuestionIn, status=201, tag="questions",
           summary="Ask a question (optionally anonymous); it is relayed to likely experts.")
def ask(call):
    return show_question(call, relais().questions.ask(call.caller, call.body))


@api.route("/questions", summary="List questions: mine, by status, by tag.", tag="questions",
           query=[Query("mine", "boolean", "Only questions I asked."),
                  Query("status", description="open, answered or closed."),
                  Query("tag", description="Only questions with this tag."), *PAGING])
def list_questions(call):
    page = relais().questions.list(call.caller, mine=call.query.get("mine", False),
                                   status=call.query.get("status"), tag=call.query.get("tag"),
                                   limit=call.query.get("limit", 20),
                                   cursor=call.query.get("cursor"))
    return page_body(page, lambda q: show_question(call, q))


@api.route("/questions/{question_id}", summary="A question with its answers.", tag="questions")
def get_question(call, question_id):
    return show_question(call, relais().questions.get(question_id), with_answers=True)


@api.route("/questions/{question_id}/answers", "POST", body=AnswerIn, status=201,
           tag="questions", summary="Answer a question.")
def answer(call, question_id):
    return show_answer(call, relais().questions.answer(call.caller, question_id, call.body))


@api.route("/answers/{answer_id}", "PATCH", body=AnswerEdit, tag="questions",
           summary="Edit your own answer.")
def edit_answer(call, answer_id):
    return show_answer(call, relais().questions.edit_answer(call.caller, answer_id, call.body))


@api.route("/questions/{question_id}/accept", "POST", body=Accept, tag="questions",
           summary="Accept an answer (the asker only).")
def accept(call, question_id):
    question = relais().questions.accept(call.caller, question_id, call.body.answer_id)
    return show_question(call, question, with_answers=True)


@api.route("/answers/{answer_id}/vote", "POST", body=Vote, tag="questions",
           summary="Vote on an answer (+1, -1, 0 to withdraw); not on your own.")
def vote(call, answer_id):
    return {"answer_id": answer_id,
            "score": relais().questions.vote(call.caller, answer_id, call.body.value)}


@api.route("/questions/{question_id}/close", "POST", tag="questions",
           summary="Close a question (the asker or an admin).")
def close(call, question_id):
    return show_question(call, relais().questions.close(call.caller, question_id))
