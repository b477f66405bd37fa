"""Chalice entry point: routes only. Each parses, calls one service, and returns a view."""
from __future__ import annotations

from chalice import Chalice

from chalicelib import views
from chalicelib.auth import identify
from chalicelib.bootstrap import Relais, bootstrap
from chalicelib.domain import OPEN_RELAY_STATES, RELAY_STATES
from chalicelib.errors import Forbidden, field_error
from chalicelib.http import PAGING, Query, RouteTable, page_body
from chalicelib.schemas import (Accept, AnswerEdit, AnswerIn, HrSync, Invite, ProfilePatch,
                                QuestionIn, ReplayIn, Snooze, Vote)
from chalicelib.schemas import Draft as DraftIn
from chalicelib.services.routing import Draft

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
                                                   relais().tokens, relais().sign_in),
                 max_body_bytes=lambda: relais().settings.max_body_bytes,
                 module_on=lambda module: relais().modules.is_on(module))


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
    return describe(api.specs, switched_off=relais().modules.switched_off())


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


@api.route("/profiles/{profile_id}/expertise", tag="directory",
           summary="What Relais infers a person knows from their answers (per tag: answers, "
                   "accepted, last one, the weight routing gives it today), with their "
                   "declared skills and the tags they muted.")
def get_expertise(call, profile_id):
    return relais().expertise.of(profile_id)


@api.route("/profiles/{profile_id}", "PATCH", body=ProfilePatch, tag="directory",
           summary="Edit a profile: your own fields, or HR fields with the hr role.")
def edit_profile(call, profile_id):
    profile = relais().profiles.edit(call.caller, profile_id, call.body)
    if call.caller.id != profile_id:  # HR or an admin acting on someone: audited
        relais().audit.record(call.caller, "profile.edited", profile_id,
                              {"fields": sorted(call.body.model_fields_set - {"version"})})
    return show_profile(call, profile)


# HR sync ---------------------------------------------------------------------------------
@api.route("/hr/profiles", "POST", body=HrSync, tag="hr",
           summary="Bulk upsert of up to 1,000 profiles, idempotent, with a report per item.")
def hr_sync(call):
    require_hr(call)
    report = relais().hr_sync.upsert(call.body.profiles)
    relais().audit.record(call.caller, "hr.sync", "profiles", {
        "counts": report["counts"],
        "changed": [i["id"] for i in report["items"] if i["status"] in ("created", "updated")]})
    return report


# Questions and answers -------------------------------------------------------------------
def show_question(call, question, with_answers: bool = False) -> dict:
    service = relais().questions
    answers = service.answers(question.id) if with_answers else []
    people = relais().profile_store.get_many([question.asker_id, *(a.author_id for a in answers)])
    data = views.question_view(question, call.caller, people)
    if with_answers:
        data["answers"] = [views.answer_view(a, call.caller, people) for a in answers]
    return data


def show_questions(call, questions) -> list[dict]:
    """Questions without their answers, their askers read in one batch."""
    people = relais().profile_store.get_many(q.asker_id for q in questions)
    return [views.question_view(q, call.caller, people) for q in questions]


def show_answer(call, answer) -> dict:
    people = relais().profile_store.get_many([answer.author_id])
    return views.answer_view(answer, call.caller, people)


@api.route("/questions", "POST", body=QuestionIn, status=201, tag="questions",
           summary="Ask a question (optionally anonymous); it is relayed to likely experts.")
def ask(call):
    relais().modules.check_question(call.body)  # anonymous / community_id: modules on?
    return show_question(call, relais().communities.ask(call.caller, call.body,
                                                        relais().questions))


@api.route("/questions", summary="List questions: mine, by status, by tag, on the tags I watch.",
           tag="questions",
           query=[Query("mine", "boolean", "Only questions I asked."),
                  Query("status", description="open, answered or closed."),
                  Query("tag", description="Only questions with this tag."),
                  Query("watched", "boolean", "Only questions on the tags I watch (my "
                        "profile's watched_tags); not with mine or tag."), *PAGING])
def list_questions(call):
    page = relais().questions.list(call.caller, mine=call.query.get("mine", False),
                                   status=call.query.get("status"), tag=call.query.get("tag"),
                                   watched=call.query.get("watched", False),
                                   limit=call.query.get("limit", 20),
                                   cursor=call.query.get("cursor"))
    shown = dict(zip((q.id for q in page.items), show_questions(call, page.items)))
    return page_body(page, lambda q: shown[q.id])


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


# Routing ---------------------------------------------------------------------------------
def draft_of(body) -> Draft:
    return Draft(body.title, body.body, tuple(body.tags))


@api.route("/suggestions/experts", "POST", body=DraftIn, tag="routing",
           query=[Query("limit", "integer", "How many people (1-20, default 5).", 1, 20)],
           summary="Experts for a draft question, each with why; nothing is stored.")
def suggest_experts(call):
    return {"experts": relais().routing.suggest_experts(
        draft_of(call.body), call.caller.id, call.query.get("limit", 5))}


@api.route("/suggestions/questions", "POST", body=DraftIn, tag="routing",
           query=[Query("limit", "integer", "How many questions (1-20, default 5).", 1, 20)],
           summary="Answered questions similar to a draft.")
def similar_questions(call):
    return {"questions": relais().routing.similar_questions(
        draft_of(call.body), call.caller.id, call.query.get("limit", 5))}


def show_relays(relays, *, with_question: bool, call) -> list[dict]:
    people = relais().profile_store.get_many(
        {r.expert_id for r in relays} | {r.invited_by for r in relays if r.invited_by})
    questions = relais().questions.get_many({r.question_id for r in relays})
    shown = [views.relay_view(relay, people, questions.get(relay.question_id))
             for relay in relays]
    if with_question:
        views_of = dict(zip(questions, show_questions(call, list(questions.values()))))
        for data, relay in zip(shown, relays):
            data["question"] = views_of.get(relay.question_id)
    return shown


def show_relay(relay, call) -> dict:
    return show_relays([relay], with_question=False, call=call)[0]


@api.route("/relays", summary="Questions relayed to me, newest first.", tag="routing",
           query=[Query("state", description="notified, snoozed, declined, answered, expired; "
                                             "`open` for notified and snoozed."), *PAGING])
def my_relays(call):
    state = call.query.get("state")
    states = OPEN_RELAY_STATES if state == "open" else (state,) if state else None
    if states and not set(states) <= set(RELAY_STATES):
        raise field_error("state", "unknown relay state")
    page = relais().routing.relays_for(call.caller, states, limit=call.query.get("limit", 20),
                                       cursor=call.query.get("cursor"))
    return {"items": show_relays(page.items, with_question=True, call=call),
            "next_cursor": page.next_cursor, "total": page.total}


@api.route("/questions/{question_id}/relays", tag="routing",
           summary="Who the question was relayed to and where each stands (the asker only).")
def question_relays(call, question_id):
    question = relais().questions.get(question_id)
    relays = relais().routing.relays_of_question(call.caller, question)
    return {"items": show_relays(relays, with_question=False, call=call)}


@api.route("/questions/{question_id}/decline", "POST", tag="routing",
           summary="Decline a question relayed to me; it goes to the next person.")
def decline(call, question_id):
    relay = relais().routing.decline(call.caller, question_id)
    return show_relay(relay, call)


@api.route("/questions/{question_id}/invite", "POST", body=Invite, status=201, tag="routing",
           summary="Ask a colleague by name to answer an open question (3 per person and "
                   "question; not someone away, out of routing or with too many questions).")
def invite(call, question_id):
    relay = relais().routing.invite(call.caller, relais().questions.get(question_id),
                                    call.body.person_id, call.body.note)
    return show_relay(relay, call)


@api.route("/questions/{question_id}/handoff", "POST", body=Invite, tag="routing",
           summary="Pass a question relayed to me to a colleague who knows more: it goes to "
                   "them instead of the next best match.")
def hand_off(call, question_id):
    relay = relais().routing.hand_off(call.caller, relais().questions.get(question_id),
                                      call.body.person_id, call.body.note)
    return show_relay(relay, call)


@api.route("/questions/{question_id}/snooze", "POST", body=Snooze, tag="routing",
           summary="Snooze a question relayed to me; the next person gets it meanwhile.")
def snooze(call, question_id):
    relay = relais().routing.snooze(call.caller, question_id, call.body.hours)
    return show_relay(relay, call)


# Administration --------------------------------------------------------------------------
def require_admin(call) -> None:
    if not call.caller.is_admin:
        raise Forbidden("this needs the admin role")


@api.route("/admin/outbox", summary="Mails Relais sent or queued (embedded profile).",
           tag="admin", query=[Query("recipient", description="Only mails to this address."),
                               *PAGING])
def outbox(call):
    require_admin(call)
    page = relais().mailer.list(limit=call.query.get("limit", 20), cursor=call.query.get("cursor"),
                                recipient=call.query.get("recipient"))
    return page_body(page, lambda item: item)


@api.route("/admin/escalations", "POST", tag="admin",
           summary="Expire overdue relays and escalate unanswered questions now.")
def escalate(call):
    require_admin(call)
    return relais().routing.escalate_due()


@api.route("/admin/routing/replay", "POST", body=ReplayIn, tag="admin",
           summary="Route the latest questions again under a candidate policy (relay count, "
                   "management-chain depth, load damping, community boost) beside the policy "
                   "in force, and see what it would ask of people. Nothing is stored or sent.")
def replay_policy(call):
    changes = call.body.changes.model_dump(exclude_unset=True)
    return relais().replay.run(call.caller, changes, call.body.questions)


@app.schedule("rate(15 minutes)")
def escalate_on_schedule(event):
    """On AWS, overdue relays are escalated every 15 minutes."""
    return relais().jobs.escalations()


# Email -----------------------------------------------------------------------------------
import os  # noqa: E402  (kept with the section that needs it)

from chalicelib.errors import NotFound  # noqa: E402
from chalicelib.mail_ports import OUTCOMES as MAIL_OUTCOMES  # noqa: E402

# Chalice reads decorator arguments at import time, before settings exist: the bucket comes
# from the same environment variable Settings reads.
MAIL_BUCKET = os.environ.get("RELAIS_MAIL_BUCKET", "relais-inbound-mail")


def email_in():
    service = relais().email_in
    if service is None:
        raise NotFound("the email channel is not switched on")
    return service


@api.route("/admin/mail", tag="admin", module="email",
           summary="Inbound mails and what became of each; `outcome=quarantined` for the "
                   "ones that need a look.",
           query=[Query("outcome", description="One of " + ", ".join(MAIL_OUTCOMES) + "."),
                  *PAGING])
def inbound_mail(call):
    require_admin(call)
    outcome = call.query.get("outcome")
    if outcome is not None and outcome not in MAIL_OUTCOMES:
        raise field_error("outcome", "one of " + ", ".join(MAIL_OUTCOMES))
    page = email_in().inbound_log(outcome=outcome, limit=call.query.get("limit", 20),
                                  cursor=call.query.get("cursor"))
    return page_body(page, lambda item: item)


@api.route("/admin/mail/digests", "POST", tag="admin", module="email",
           summary="Send the daily digests now (people who chose one mail a day).")
def send_digests(call):
    require_admin(call)
    return relais().notifier.send_digests()


@app.schedule("cron(0 * * * ? *)")
def send_digests_on_schedule(event):
    """On AWS, every hour; digests go out in the one at 07:00 of a working day where the
    organisation is (RELAIS_TIME_ZONE), while the email module is on."""
    return relais().jobs.digests()


@app.on_s3_event(bucket=MAIL_BUCKET, prefix="inbound/", events=["s3:ObjectCreated:*"])
def receive_mail(event):
    """SES wrote a received mail to S3 (receipt rule S3 action, prefix inbound/): ingest it."""
    from chalicelib.adapters.mail import read_ses_object
    settings = relais().settings
    mail = read_ses_object(event.bucket, event.key, settings.aws_region,
                           max_bytes=settings.mail_max_bytes)
    result = email_in().ingest(mail.raw, mail.envelope_from, mail.recipients, mail.verdicts,
                               stored_at=mail.location)
    if result.retry_later:  # the event is delivered again (Lambda retries failed invocations)
        raise RuntimeError(f"mail {result.message_id}: {result.reason}")
    return result.to_dict()


# Communities, modules, figures, privacy --------------------------------------------------
# Modules (services/modules.py) are switched on one by one; a route's `module` answers 404
# and leaves /openapi.json while its module is off.
from chalice import Response as FileResponse  # noqa: E402

from chalicelib.domain import COMMUNITY_ROLES  # noqa: E402
from chalicelib.schemas import (CommunityIn, CommunityPatch, CommunityRoleIn,  # noqa: E402
                                ModulesIn, ThanksIn)
from chalicelib.services.figures import BUCKETS, FORMATS, to_csv  # noqa: E402


@api.route("/modules", tag="modules",
           summary="Which modules are on here, for the widget to hide the others.")
def module_states(call):
    return {"modules": relais().modules.states()}


@api.route("/admin/modules", tag="admin",
           summary="Module switches, whether each is in effect, and what each needs.")
def admin_modules(call):
    require_admin(call)
    return relais().modules.describe()


@api.route("/admin/modules", "PUT", body=ModulesIn, tag="admin",
           summary="Switch modules on or off (audited); modules left out keep their state.")
def switch_modules(call):
    changes = call.body.model_dump(exclude_unset=True)
    version = changes.pop("version", None)
    return relais().modules.change(call.caller, changes, version)


@api.route("/admin/audit", tag="admin",
           summary="Admin and HR actions, newest first (admins only).",
           query=[Query("action", description="One action, or a prefix ending in `.` "
                                              "(e.g. `community.`)."),
                  Query("actor_id", description="Only the actions of this person."), *PAGING])
def audit_log(call):
    page = relais().audit.list(call.caller, action=call.query.get("action"),
                               actor_id=call.query.get("actor_id"),
                               limit=call.query.get("limit", 20), cursor=call.query.get("cursor"))
    return page_body(page, lambda entry: entry.to_dict())


def show_community(call, community) -> dict:
    return relais().communities.views([community], call.caller)[0]


@api.route("/communities", tag="communities", module="communities",
           summary="Topic communities, by name; open to anyone.",
           query=[Query("mine", "boolean", "Only communities I joined, manage or lead."),
                  *PAGING])
def list_communities(call):
    page = relais().communities.list(call.caller, mine=call.query.get("mine", False),
                                      limit=call.query.get("limit", 20),
                                      cursor=call.query.get("cursor"))
    return {"items": relais().communities.views(page.items, call.caller),
            "next_cursor": page.next_cursor, "total": page.total}


@api.route("/communities", "POST", body=CommunityIn, status=201, tag="communities",
           module="communities", summary="Create a community (admins).")
def create_community(call):
    return show_community(call, relais().communities.create(call.caller, call.body))


@api.route("/communities/{community_id}", tag="communities", module="communities",
           summary="A community with its managers, leads and member count.")
def get_community(call, community_id):
    return show_community(call, relais().communities.get(community_id))


@api.route("/communities/{community_id}", "PATCH", body=CommunityPatch, tag="communities",
           module="communities",
           summary="Describe a community (admins, its managers and leads).")
def edit_community(call, community_id):
    return show_community(call, relais().communities.edit(call.caller, community_id, call.body))


@api.route("/communities/{community_id}/membership", "POST", tag="communities",
           module="communities", summary="Join a community (anyone; joining twice is harmless).")
def join_community(call, community_id):
    return relais().communities.join(call.caller, community_id)


@api.route("/communities/{community_id}/membership", "DELETE", tag="communities",
           module="communities", summary="Leave a community.")
def leave_community(call, community_id):
    return relais().communities.leave(call.caller, community_id)


@api.route("/communities/{community_id}/members", tag="communities", module="communities",
           summary="Members of a community, with site and languages to meet them.",
           query=PAGING)
def community_members(call, community_id):
    page = relais().communities.members(community_id, limit=call.query.get("limit", 20),
                                        cursor=call.query.get("cursor"))
    return page_body(page, lambda item: item)


@api.route("/communities/{community_id}/roles/{person_id}", "PUT", body=CommunityRoleIn,
           tag="communities", module="communities",
           summary="Make someone manager (admins, the community's lead) or lead (admins).")
def assign_community_role(call, community_id, person_id):
    return relais().communities.assign(call.caller, community_id, person_id, call.body.role)


@api.route("/communities/{community_id}/roles/{person_id}", "DELETE", tag="communities",
           module="communities", summary="Withdraw a community role.",
           query=[Query("role", description="manager or lead (required).")])
def withdraw_community_role(call, community_id, person_id):
    role = call.query.get("role")
    if role not in COMMUNITY_ROLES:
        raise field_error("role", "manager or lead")
    return relais().communities.withdraw(call.caller, community_id, person_id, role)


@api.route("/communities/{community_id}/relay-members", tag="communities",
           module="recognition",
           summary="Relay members: people whose outcomes make the community live (its "
                   "managers, leads and admins).")
def relay_members(call, community_id):
    return relais().recognition.relay_members(call.caller, community_id)


@api.route("/communities/{community_id}/relay-members/{person_id}/thanks", "POST",
           body=ThanksIn, status=201, tag="communities", module="recognition",
           summary="Thank a relay member: a mail, and thanks shown on their profile.")
def thank_relay_member(call, community_id, person_id):
    thanks = relais().recognition.thank(call.caller, community_id, person_id,
                                        call.body.message)
    return thanks.to_dict()


@api.route("/profiles/{profile_id}/thanks", tag="directory", module="recognition",
           summary="Thanks a person received from community managers.")
def profile_thanks(call, profile_id):
    return {"items": relais().recognition.thanks_for(profile_id)}


@api.route("/figures", tag="figures", module="analytics",
           summary="Follow-up figures of a period, for all (admins) or one community (its "
                   "managers); JSON or CSV.",
           query=[Query("community_id", description="One community's figures."),
                  Query("from", description="First day, YYYY-MM-DD (default: 30 days ago)."),
                  Query("to", description="Last day, YYYY-MM-DD (default: today)."),
                  Query("bucket", description="Series per `week` or `month` (default)."),
                  Query("format", description="`json` (default) or `csv`.")])
def figures(call):
    form = call.query.get("format", "json")
    if form not in FORMATS:
        raise field_error("format", "json or csv")
    bucket = call.query.get("bucket", "month")
    if bucket not in BUCKETS:
        raise field_error("bucket", "week or month")
    data = relais().figures.figures(call.caller, community_id=call.query.get("community_id"),
                                    start=call.query.get("from"), end=call.query.get("to"),
                                    bucket=bucket)
    if form == "csv":
        return FileResponse(body=to_csv(data), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="relais-figures.csv"'})
    return data


@api.route("/me/export", tag="privacy",
           summary="All my data: profile, questions (anonymous ones too), answers, votes, "
                   "relays, communities, thanks. On AWS, an export over 4 MB comes as "
                   "`download` (url, expires_at, bytes, filename): a link valid 15 minutes.")
def export_my_data(call):
    return relais().privacy.export_or_link(call.caller)


@api.route("/me", "DELETE", tag="privacy",
           summary="Delete me: personal fields erased; my answers stay, shown as a former "
                   "colleague's.",
           query=[Query("confirm", "boolean", "Must be true: this cannot be undone.")])
def delete_me(call):
    if call.query.get("confirm") is not True:
        raise field_error("confirm", "must be true: deletion cannot be undone")
    return relais().privacy.delete(call.caller)


# SCIM 2.0 --------------------------------------------------------------------------------
# Identity providers (Okta, Microsoft Entra ID) provision people here (RFC 7643/7644).
# Errors are SCIM Error messages; bodies are read as application/scim+json or application/json.
from chalice import Response as ScimResponse  # noqa: E402

from chalicelib.services import scim  # noqa: E402

SCIM_TYPES = ["application/scim+json", "application/json"]
SCIM_USER = {"type": "object", "description": "A SCIM User (RFC 7643 §4.1), with the enterprise "
                                              "extension (§4.3) if wanted."}
SCIM_PATCH = {"type": "object", "required": ["Operations"],
              "description": "A SCIM PatchOp (RFC 7644 §3.5.2): add, replace, remove."}
SCIM_SHAPE = [Query("attributes", description="Return only these attributes (comma-separated)."),
              Query("excludedAttributes", description="Leave these attributes out.")]
SCIM_LIST = [Query("filter", description='attr eq "value" [and ...] on userName, externalId, '
                                         'emails or id.'),
             Query("startIndex", "integer", "1-based index of the first result."),
             Query("count", "integer", f"Results per page (at most {scim.MAX_RESULTS})."),
             Query("sortBy", description="Accepted and ignored: sorting is not supported."),
             Query("sortOrder", description="Accepted and ignored."), *SCIM_SHAPE]


def scim_error(error) -> ScimResponse:
    status, body = scim.error_body(error)
    headers = {"Content-Type": SCIM_TYPES[0]}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="relais"'
    return ScimResponse(body=body, status_code=status, headers=headers)


def scim_route(path: str, method: str = "GET", **options):
    return api.route(path, method, tag="scim", content_types=SCIM_TYPES, on_error=scim_error,
                     **options)


def scim_service(call) -> scim.ScimService:
    require_hr(call)
    return relais().scim


def show_scim_user(call, profile, status: int = 200) -> ScimResponse:
    service = relais().scim
    body = service.to_resource(profile, call.query.get("attributes"),
                               call.query.get("excludedAttributes"))
    headers = {"Content-Type": SCIM_TYPES[0], "ETag": scim.etag(profile)}
    if status == 201:
        headers["Location"] = service.location(profile)
    return ScimResponse(body=body, status_code=status, headers=headers)


# Discovery documents are the same for everyone and reveal nothing, so they need no token.
@scim_route("/scim/v2/ServiceProviderConfig", auth=False,
            summary="SCIM features supported: patch, filter, etag; no bulk, no sort.")
def scim_service_provider_config(call):
    return relais().scim.service_provider_config()


@scim_route("/scim/v2/ResourceTypes", auth=False, summary="SCIM resource types (User).")
def scim_resource_types(call):
    return scim.list_response(relais().scim.resource_types())


@scim_route("/scim/v2/ResourceTypes/{type_id}", auth=False, summary="One SCIM resource type.")
def scim_resource_type(call, type_id):
    found = [t for t in relais().scim.resource_types() if t["id"] == type_id]
    if not found:
        raise scim.ScimError(404, f"resource type {type_id!r} not found")
    return found[0]


@scim_route("/scim/v2/Schemas", auth=False, summary="SCIM schemas: User, EnterpriseUser.")
def scim_schemas(call):
    return scim.list_response(relais().scim.schemas())


@scim_route("/scim/v2/Schemas/{schema_id}", auth=False, summary="One SCIM schema by URN.")
def scim_schema(call, schema_id):
    found = [s for s in relais().scim.schemas() if s["id"] == schema_id]
    if not found:
        raise scim.ScimError(404, f"schema {schema_id!r} not found")
    return found[0]


@scim_route("/scim/v2/Users", query=SCIM_LIST,
            summary="List or find Users (filter, startIndex, count); inactive ones included.")
def scim_list_users(call):
    service = scim_service(call)
    total, start, page = service.list(call.query.get("filter"), call.query.get("startIndex"),
                                      call.query.get("count"))
    return service.list_body(total, start, page, call.query.get("attributes"),
                             call.query.get("excludedAttributes"))


@scim_route("/scim/v2/Users", "POST", body=SCIM_USER, query=SCIM_SHAPE, status=201,
            summary="Provision a person; 409 uniqueness if the userName is taken.")
def scim_create_user(call):
    return show_scim_user(call, scim_service(call).create(call.body), status=201)


@scim_route("/scim/v2/Users/{user_id}", query=SCIM_SHAPE, summary="One User.")
def scim_get_user(call, user_id):
    return show_scim_user(call, scim_service(call).get(user_id))


@scim_route("/scim/v2/Users/{user_id}", "PUT", body=SCIM_USER, query=SCIM_SHAPE,
            summary="Replace a User; If-Match makes a stale version a 412.")
def scim_replace_user(call, user_id):
    service = scim_service(call)
    return show_scim_user(call, service.replace(user_id, call.body,
                                                call.request.headers.get("if-match")))


@scim_route("/scim/v2/Users/{user_id}", "PATCH", body=SCIM_PATCH, query=SCIM_SHAPE,
            summary="Change a User with add/replace/remove operations (deactivate: active).")
def scim_patch_user(call, user_id):
    service = scim_service(call)
    return show_scim_user(call, service.patch(user_id, call.body,
                                              call.request.headers.get("if-match")))


@scim_route("/scim/v2/Users/{user_id}", "DELETE", status=204,
            summary="Delete a User: hidden everywhere, kept so past answers stay attributed.")
def scim_delete_user(call, user_id):
    scim_service(call).delete(user_id, call.request.headers.get("if-match"))
    return ScimResponse(body="", status_code=204)


# Entra's "test connection" also looks for a group; Relais has none, so the list is empty.
@scim_route("/scim/v2/Groups", query=SCIM_LIST, summary="Groups: always empty.")
def scim_list_groups(call):
    scim_service(call)
    return scim.list_response([], 0, max(1, call.query.get("startIndex") or 1))
