"""The ranking's arithmetic (chalicelib/matching.py), on hand-made evidence."""
from __future__ import annotations

from datetime import datetime, timezone

from chalicelib import matching
from chalicelib.ports import EvidenceDoc, Hit, TagExpertise

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
NO_TAGS = TagExpertise({}, {})


def answer(doc_id: str, person: str, created_at: str = "2026-05-01T00:00:00Z",
           accepted: bool = False) -> EvidenceDoc:
    return EvidenceDoc(id=doc_id, person_id=person, kind="answer", text="a question",
                       question_id=f"q-{doc_id}", accepted=accepted, created_at=created_at)


def ranking(suggestions) -> list[str]:
    return [s.person_id for s in suggestions]


def test_activity_ranks_the_same_however_quiet_the_company_has_been():
    # The same people, their amounts all shrunk 1000 times (months without answers): the
    # activity signal, and so the ranking and every score, stay the same.
    activity = {"ana": 12.0, "ben": 3.0, "cyd": 0.4, "dan": 0.05}
    evidence = [Hit(answer("1", "dan"), 2.0), Hit(answer("2", "cyd"), 1.5)]
    busy = matching.score_people(evidence, [], NO_TAGS, activity, now=NOW)
    quiet = matching.score_people(evidence, [], NO_TAGS,
                                  {p: a / 1000 for p, a in activity.items()}, now=NOW)
    assert ranking(busy) == ranking(quiet)
    assert [round(s.score, 9) for s in busy] == [round(s.score, 9) for s in quiet]
    # and activity still saturates: four times the answers is not four times the signal
    only_activity = matching.score_people([], [], NO_TAGS, activity, now=NOW)
    scores = {s.person_id: s.score for s in only_activity}
    assert scores["ana"] > scores["ben"] > scores["ana"] / 4


def test_a_rarely_answered_tag_does_not_make_its_only_answerer_the_expert():
    # "rare" was answered once, by rosa; "common" 100 times, 30 of them by carl.
    expertise = TagExpertise({"rosa": {"rare": 1.0}, "carl": {"common": 30.0},
                              "cleo": {"common": 2.0}},
                             {"rare": 1.0, "common": 100.0})
    ranked = matching.score_people([], [], expertise, {}, now=NOW, query_tags=["rare", "common"])
    assert ranking(ranked) == ["carl", "rosa", "cleo"]
    assert ranked[0].evidence[0].kind == "tags" and ranked[0].evidence[0].matched == ["common"]
    said = {s.person_id: s.evidence[0].text for s in ranked}
    assert said == {"carl": "share of the answers on common: 30%",
                    "rosa": "share of the answers on rare: 100%",
                    "cleo": "share of the answers on common: 2%"}
    # the same shares when every amount has faded (old history)
    faded = TagExpertise({p: {t: w * 1e-6 for t, w in tags.items()}
                          for p, tags in expertise.people.items()},
                         {t: w * 1e-6 for t, w in expertise.totals.items()})
    again = matching.score_people([], [], faded, {}, now=NOW, query_tags=["rare", "common"])
    assert {s.person_id: s.evidence[0].text for s in again} == said


def test_absent_or_zero_activity_adds_nothing():
    ranked = matching.score_people([Hit(answer("1", "ana"), 1.0)], [], NO_TAGS,
                                   {"ana": 0.0}, now=NOW)
    assert ranking(ranked) == ["ana"]
    assert [e.kind for e in ranked[0].evidence] == ["answer"]
    assert matching.score_people([], [], NO_TAGS, {}, now=NOW) == []


def test_recent_and_accepted_answers_count_more_and_declared_skills_less():
    old = answer("old", "olga", created_at="2024-06-01T00:00:00Z")
    recent = answer("new", "nina")
    accepted = answer("acc", "abel", accepted=True)
    skills = EvidenceDoc(id="skills:sam", person_id="sam", kind="skills", text="physics",
                         created_at="2026-05-01T00:00:00Z")
    ranked = matching.score_people([Hit(d, 1.0) for d in (old, recent, accepted, skills)], [],
                                   NO_TAGS, {}, now=NOW)
    assert ranking(ranked) == ["abel", "nina", "olga", "sam"]


def test_the_explanation_keeps_the_reasons_beside_a_heavy_activity():
    evidence = [Hit(answer(str(i), "ana"), 1.0 + i) for i in range(4)]
    ranked = matching.score_people(evidence, [], NO_TAGS, {"ana": 50.0, "ben": 1.0}, now=NOW)
    shown = matching.explain(ranked[0])
    assert [e["kind"] for e in shown].count("answer") == 3  # the three heaviest answers
    assert [e["doc_id"] for e in shown if e["kind"] == "answer"] == ["3", "2", "1"]
    assert shown[0]["kind"] == "activity"  # it weighed most, and says so
    assert sum(e["share"] for e in shown) < 1.0  # the fourth answer is not shown


def test_activity_is_explained_against_the_busiest_whatever_the_calendar():
    # Imported history years old: every amount has faded near zero, and the explanation
    # still says how active each person is next to the busiest, not "0.0 answers".
    faded = {"ana": 4e-9, "ben": 1e-9}
    ranked = {s.person_id: s for s in matching.score_people([], [], NO_TAGS, faded, now=NOW)}
    said = {p: [e.text for e in s.evidence if e.kind == "activity"] for p, s in ranked.items()}
    assert said == {"ana": ["recently active: 100% of the busiest answerer's pace"],
                    "ben": ["recently active: 25% of the busiest answerer's pace"]}


def test_being_busy_is_no_expertise_and_a_declared_skill_on_the_question_is():
    # bob answered the topic once, a year ago; tess answered it and is active; busy answered
    # nothing close and is the most active; dora declared the question's tag and is active.
    old_answer = answer("1", "bob", created_at="2025-06-01T00:00:00Z")
    skills = EvidenceDoc(id="skills:dora", person_id="dora", kind="skills", text="kafka; sql",
                         created_at="2026-05-01T00:00:00Z")
    activity = {"busy": 40.0, "tess": 10.0, "dora": 20.0}
    whole = matching.PersonMatches(profile={}, topics={"tess": 0.6, "bob": 0.5, "busy": 0.05})
    hits = [Hit(old_answer, 3.0), Hit(answer("2", "tess"), 2.0), Hit(skills, 3.0)]
    ranked = matching.score_people(hits, [], NO_TAGS, activity, now=NOW, whole=whole,
                                   query_tags=["kafka"])
    scores = {s.person_id: s.score for s in ranked}
    assert scores["busy"] > scores["bob"]  # by score alone, busyness would win
    assert ranking(ranked) == ["tess", "dora", "bob", "busy"]
    assert [s.on_topic for s in ranked] == [True, True, True, False]
    # Among people on the topic, activity still counts: tess, active, before bob.
    assert scores["tess"] > scores["bob"]
    # The routing policy keeps that order, load damping included.
    candidates = {p: matching.Candidate(p) for p in scores}
    kept = matching.apply_policy(ranked, candidates, matching.Policy(tags=frozenset({"kafka"})))
    assert ranking(kept) == ["tess", "dora", "bob", "busy"]
    # A question that does not name dora's skill finds her only busy.
    untagged = matching.score_people(hits, [], NO_TAGS, activity, now=NOW, whole=whole)
    assert ranking(untagged) == ["tess", "bob", "busy", "dora"]


def test_a_word_in_common_is_no_expertise():
    # ana answered the question's topic (words, tag, profile, close topics). rita, a
    # recruiter, shares a word with it ("profile") and is active: a quarter of her score is
    # that word, a tenth of what ties ana to the question. dora declared the question's tag.
    skills = EvidenceDoc(id="skills:dora", person_id="dora", kind="skills", text="python",
                         created_at="2026-05-01T00:00:00Z")
    hits = [Hit(answer("1", "ana"), 10.0), Hit(answer("2", "rita"), 1.0), Hit(skills, 1.0)]
    whole = matching.PersonMatches(profile={"ana": 5.0, "rita": 0.75}, topics={"ana": 0.6})
    expertise = TagExpertise({"ana": {"python": 3.0}}, {"python": 3.0})
    activity = {"ana": 10.0, "rita": 2.0, "dora": 1.0}

    def rank(weights=matching.DEFAULT_WEIGHTS):
        return matching.score_people(hits, [], expertise, activity, now=NOW, whole=whole,
                                     query_tags=["python"], weights=weights)

    ranked = rank()
    scores = {s.person_id: s.score for s in ranked}
    rita = next(s for s in ranked if s.person_id == "rita")
    on_question = sum(e.weight for e in rita.evidence if e.kind != "activity")
    assert on_question >= 0.2 * rita.score  # her own share alone would keep her on topic
    assert scores["rita"] > scores["dora"]  # and by score she would come before dora
    assert ranking(ranked) == ["ana", "dora", "rita"]
    assert {s.person_id: s.on_topic for s in ranked} == {"ana": True, "dora": True,
                                                        "rita": False}
    # Measured against the best candidate's evidence, not her own score: without that
    # floor she is back on topic, ahead of dora.
    unfloored = rank(matching.Weights(min_topical_of_best=0.0))
    assert ranking(unfloored) == ["ana", "rita", "dora"]


def test_evidence_by_meaning_is_on_the_question_only_when_close_in_meaning():
    # Every text is a little close to every other: a cosine of 0.2 is no sign of expertise.
    whole = matching.PersonMatches(profile={}, topics={"near": 0.5, "far": 0.2})
    question = EvidenceDoc(id="a9", person_id="vague", kind="answer", text="other",
                           question_id="q9", created_at="2026-05-01T00:00:00Z")
    activity = {"near": 1.0, "far": 0.01, "vague": 0.01}
    ranked = matching.score_people([], [Hit(question, 0.3)], NO_TAGS, activity, now=NOW,
                                   whole=whole)
    assert {s.person_id: s.on_topic for s in ranked} == {
        "near": True, "far": False, "vague": False}
    assert ranking(ranked)[0] == "near"
    # The floor is the embedding model's scale, a setting: lower, the same evidence counts.
    loose = matching.score_people([], [Hit(question, 0.3)], NO_TAGS, activity, now=NOW,
                                  whole=whole, weights=matching.Weights(close_in_meaning=0.1))
    assert all(s.on_topic for s in loose)



def test_the_policy_skips_exactly_the_people_it_would_refuse_by_name():
    policy = matching.Policy(excluded=frozenset({"asker"}), tags=frozenset({"kafka"}),
                             max_open_relays=3)
    people = {
        "free": matching.Candidate("free", open_relays=2),
        "left": matching.Candidate("left", routing_opt_out=True),
        "away": matching.Candidate("away", away=True, away_until="2026-06-01"),
        "muted": matching.Candidate("muted", muted_tags=frozenset({"kafka", "sql"})),
        "busy": matching.Candidate("busy", open_relays=3),
        "asker": matching.Candidate("asker"),
    }
    reasons = {p: matching.unavailable(c, policy) for p, c in people.items()}
    assert reasons == {
        "free": None, "asker": None,  # the asker is excluded from ranking, not unavailable
        "left": "they left routing: they take no questions",
        "away": "they are away until 2026-06-01",
        "muted": "they asked not to get questions on this topic",
        "busy": "they already have 3 open questions"}
    ranked = [matching.Suggestion(p, 1.0, []) for p in people]
    assert ranking(matching.apply_policy(ranked, people, policy)) == ["free"]
