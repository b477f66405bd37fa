"""The store contracts (chalicelib/ports.py), written once: ProfileStore, QuestionStore,
CommunityStore, SettingStore, AuditLog and VoteReader.

Every adapter runs the same suite: subclass the contract and provide a `store` fixture that
returns a fresh, empty store, e.g.

    class TestDynamoDBProfileStore(ProfileStoreContract):
        @pytest.fixture
        def store(self, tables):
            return DynamoDBProfileStore(tables)

Orderings are asserted only where the port promises them ("ordered by id", "newest first",
"oldest first"); records are written with increasing `created_at` so that an adapter ordering
by time and one ordering by insertion agree.
"""
from __future__ import annotations

import threading

import pytest

from chalicelib.domain import (Answer, AuditEntry, Community, CommunityRole, Membership,
                               Profile, Question, Relay, Thanks)
from chalicelib.errors import Conflict, NotFound, ValidationError


def person(pid: str, name: str | None = None, **fields) -> Profile:
    return Profile(id=pid, name=name or f"Person {pid}", created_at="2026-01-01T00:00:00Z",
                   updated_at="2026-01-01T00:00:00Z", **fields)


def walk(listing, limit: int) -> tuple[list, list]:
    """Follow `next_cursor` to the end: (every item, every page)."""
    pages, cursor = [], None
    while True:
        page = listing(limit=limit, cursor=cursor)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return [item for p in pages for item in p.items], pages


class ProfileStoreContract:
    """What every ProfileStore must do. Subclasses provide the `store` fixture."""

    @pytest.fixture
    def store(self):
        raise NotImplementedError("an adapter's test class provides a fresh `store`")

    # add / get ---------------------------------------------------------------------------
    def test_add_stores_at_version_1_and_get_returns_it(self, store):
        added = store.add(person("u1", "Ana", email="ana@example.com", skills=["Python"],
                                 languages=["fr"], manager_id=None, bio="Data team"))
        assert added.version == 1
        got = store.get("u1")
        assert got == added
        assert got.skills == ["Python"] and got.languages == ["fr"] and got.bio == "Data team"

    def test_get_of_unknown_id_is_none(self, store):
        assert store.get("nobody") is None

    def test_add_of_an_existing_id_is_a_conflict_and_keeps_the_first(self, store):
        store.add(person("u1", "Ana"))
        with pytest.raises(Conflict):
            store.add(person("u1", "Impostor"))
        assert store.get("u1").name == "Ana"

    def test_user_name_is_unique_among_non_deleted_profiles(self, store):
        store.add(person("u1", user_name="ana"))
        with pytest.raises(Conflict):
            store.add(person("u2", user_name="ANA"))
        assert store.get("u2") is None
        # A deleted profile frees its user name.
        first = store.get("u1")
        store.update(first.replace(deleted=True))
        store.add(person("u3", user_name="ana"))
        assert store.find(user_name="ana").id == "u3"

    def test_get_many_returns_the_existing_ones_deleted_included(self, store):
        store.add(person("u1"))
        gone = store.add(person("u2"))
        store.update(gone.replace(deleted=True))
        found = store.get_many(["u1", "u2", "u3", "u1"])
        assert sorted(found) == ["u1", "u2"]
        assert found["u2"].deleted is True
        assert store.get_many([]) == {}

    # update: compare-and-set ---------------------------------------------------------------
    def test_update_increments_the_version_and_stores_the_change(self, store):
        first = store.add(person("u1", "Ana"))
        second = store.update(first.replace(title="Engineer", muted_tags=["kafka", "c++"]))
        assert second.version == 2
        assert store.get("u1").title == "Engineer"
        assert store.get("u1").muted_tags == ["kafka", "c++"]
        assert store.get("u1").version == 2
        assert store.update(second.replace(muted_tags=[])).muted_tags == []
        assert store.get("u1").muted_tags == []

    def test_watchers_are_the_listed_people_watching_any_of_the_tags(self, store):
        store.add(person("u1", watched_tags=["kafka", "c++"]))
        store.add(person("u2", watched_tags=["kafka"]))
        store.add(person("u3", watched_tags=["excel"]))
        store.add(person("u4"))
        leaver = store.add(person("u5", watched_tags=["kafka"]))
        assert store.watchers(["kafka"]) == {"u1", "u2", "u5"}
        assert store.watchers(["c++", "excel", "nothing"]) == {"u1", "u3"}
        assert store.watchers([]) == set() and store.watchers(["nothing"]) == set()
        store.update(leaver.replace(active=False))  # leavers are told of nothing
        u2 = store.get("u2")
        store.update(u2.replace(watched_tags=["excel"]))  # an unwatched tag is let go
        assert store.watchers(["kafka"]) == {"u1"}
        assert store.watchers(["excel"]) == {"u2", "u3"}
        back = store.get("u5")
        store.update(back.replace(active=True))  # and come back with what they watched
        assert store.watchers(["kafka"]) == {"u1", "u5"}
        store.update(store.get("u1").replace(deleted=True))
        assert store.watchers(["kafka", "c++"]) == {"u5"}

    def test_update_from_a_stale_version_is_a_conflict_and_changes_nothing(self, store):
        first = store.add(person("u1", "Ana"))
        store.update(first.replace(title="Engineer"))
        with pytest.raises(Conflict):
            store.update(first.replace(title="Manager"))
        assert store.get("u1").title == "Engineer"
        assert store.get("u1").version == 2

    def test_update_of_an_unknown_profile_is_not_found(self, store):
        with pytest.raises(NotFound):
            store.update(person("ghost", version=1))

    def test_update_that_takes_a_used_user_name_is_a_conflict(self, store):
        store.add(person("u1", user_name="ana"))
        bob = store.add(person("u2", user_name="bob"))
        with pytest.raises(Conflict):
            store.update(bob.replace(user_name="ana"))
        assert store.get("u2").user_name == "bob"

    def test_concurrent_updates_from_one_version_let_exactly_one_win(self, store):
        first = store.add(person("u1"))
        outcomes, barrier = [], threading.Barrier(8)

        def write(n):
            barrier.wait()
            try:
                store.update(first.replace(site=f"site-{n}"))
                outcomes.append(("ok", n))
            except Conflict:
                outcomes.append(("conflict", n))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [n for kind, n in outcomes if kind == "ok"]
        assert len(winners) == 1 and len(outcomes) == 8
        assert store.get("u1").site == f"site-{winners[0]}"
        assert store.get("u1").version == 2

    # find ----------------------------------------------------------------------------------
    def test_find_by_user_name_email_or_external_id(self, store):
        store.add(person("u1", user_name="ana.b", email="Ana.B@Example.com", external_id="ext-1"))
        store.add(person("u2", user_name="bob", email="bob@example.com", external_id="ext-2"))
        assert store.find(user_name="ana.b").id == "u1"
        assert store.find(user_name="ANA.B").id == "u1"
        assert store.find(email="ana.b@example.com").id == "u1"
        assert store.find(external_id="ext-2").id == "u2"
        assert store.find(user_name="nobody") is None
        assert store.find(email="nobody@example.com") is None
        assert store.find() is None

    def test_find_ignores_deleted_profiles(self, store):
        ana = store.add(person("u1", user_name="ana", email="ana@example.com", external_id="x1"))
        store.update(ana.replace(deleted=True))
        assert store.find(user_name="ana") is None
        assert store.find(email="ana@example.com") is None
        assert store.find(external_id="x1") is None

    def test_find_sees_changed_fields(self, store):
        ana = store.add(person("u1", email="old@example.com"))
        store.update(ana.replace(email="new@example.com"))
        assert store.find(email="old@example.com") is None
        assert store.find(email="new@example.com").id == "u1"

    # list ----------------------------------------------------------------------------------
    def test_list_pages_through_everyone_once_ordered_by_id(self, store):
        ids = [f"u{n:02d}" for n in range(23)]
        for pid in reversed(ids):
            store.add(person(pid))
        items, pages = walk(lambda **kw: store.list(**kw), limit=10)
        assert [p.id for p in items] == ids
        assert [len(p.items) for p in pages] == [10, 10, 3]
        assert all(p.total == 23 for p in pages)
        assert pages[-1].next_cursor is None

    def test_list_skips_leavers_unless_asked_and_never_shows_deleted(self, store):
        store.add(person("u1"))
        store.add(person("u2", active=False))
        gone = store.add(person("u3"))
        store.update(gone.replace(deleted=True))
        assert [p.id for p in store.list(limit=10).items] == ["u1"]
        everyone = store.list(limit=10, include_inactive=True)
        assert [p.id for p in everyone.items] == ["u1", "u2"]
        assert everyone.total == 2

    def test_list_by_department(self, store):
        store.add(person("u1", department="Finance"))
        store.add(person("u2", department="Legal"))
        store.add(person("u3", department="Finance"))
        page = store.list(limit=10, department="Finance")
        assert [p.id for p in page.items] == ["u1", "u3"] and page.total == 2

    def test_a_cursor_the_store_did_not_make_is_refused(self, store):
        store.add(person("u1"))
        with pytest.raises(ValidationError):
            store.list(limit=10, cursor="not-a-cursor")

    # search --------------------------------------------------------------------------------
    @pytest.fixture
    def directory(self, store):
        store.add(person("u1", "Hélène Dupont", skills=["Kubernetes", "Go"],
                         bio="Runs the platform team."))
        store.add(person("u2", "Bob Martin", skills=["Excel"], department="Finance",
                         bio="Budgets and forecasts; I sometimes read about kubernetes."))
        store.add(person("u3", "Chloé Bernard", skills=["Droit du travail"],
                         bio="Responsable de l'Équipe juridique", site="Lyon"))
        store.add(person("u4", "Dan Leaver", skills=["Kubernetes"], active=False))
        gone = store.add(person("u5", "Eve Deleted", skills=["Kubernetes"]))
        store.update(gone.replace(deleted=True))
        return store

    @pytest.mark.parametrize("text,expected", [
        ("helene", {"u1"}),  # name, accents ignored
        ("HÉLÈNE dupont", {"u1"}),
        ("equipe", {"u3"}),  # free text, accents ignored
        ("budgets", {"u2"}),
        ("lyon", {"u3"}),  # site
        ("finance", {"u2"}),  # department
        ("excel", {"u2"}),  # declared skill
        ("droit", {"u3"}),
        ("excel droit", {"u2", "u3"}),  # any of the words
        ("nothing-like-this", set()),
    ])
    def test_search_finds_people_by_name_skill_or_text(self, directory, text, expected):
        page = directory.search(text=text)
        assert {p.id for p in page.items} == expected
        assert page.total == len(expected)

    def test_search_puts_a_declared_skill_before_a_passing_mention(self, directory):
        page = directory.search(text="kubernetes")
        assert [p.id for p in page.items] == ["u1", "u2"]

    def test_search_hides_leavers_and_deleted_profiles(self, directory):
        found = {p.id for p in directory.search(text="kubernetes").items}
        assert "u4" not in found and "u5" not in found
        assert directory.search(text="leaver").items == []

    @pytest.mark.parametrize("skill", ["kubernetes", "Kubernetes ", "KUBERNETES"])
    def test_skill_filter_keeps_only_people_with_that_declared_skill(self, directory, skill):
        page = directory.search(skill=skill)
        assert [p.id for p in page.items] == ["u1"]  # not u2 (mention), not the leaver u4

    def test_skill_filter_ignores_accents(self, directory):
        assert [p.id for p in directory.search(skill="DROIT DU TRÁVAIL").items] == ["u3"]

    def test_skill_filter_and_text_together(self, directory):
        assert [p.id for p in directory.search(text="platform", skill="go").items] == ["u1"]
        assert directory.search(text="budgets", skill="go").items == []

    def test_search_follows_updates(self, directory):
        bob = directory.get("u2")
        directory.update(bob.replace(bio="Treasury", skills=["Rust"]))
        assert directory.search(text="budgets").items == []
        assert [p.id for p in directory.search(text="treasury").items] == ["u2"]
        assert [p.id for p in directory.search(skill="rust").items] == ["u2"]
        assert directory.search(skill="excel").items == []
        leaver = directory.get("u1")
        directory.update(leaver.replace(active=False))
        assert directory.search(text="helene").items == []

    def test_search_pages_are_complete_and_stable(self, store):
        for n in range(25):
            store.add(person(f"u{n:02d}", f"Analyst {n}", skills=["SQL"]))
        store.add(person("x1", "Someone Else"))
        items, pages = walk(lambda **kw: store.search(text="sql", **kw), limit=10)
        assert sorted(p.id for p in items) == [f"u{n:02d}" for n in range(25)]
        assert len({p.id for p in items}) == 25
        assert [len(p.items) for p in pages] == [10, 10, 5]
        assert all(p.total == 25 for p in pages)
        again = store.search(text="sql", limit=10, cursor=pages[0].next_cursor)
        assert [p.id for p in again.items] == [p.id for p in pages[1].items]

    def test_all_ids_includes_deleted_and_inactive(self, store):
        store.add(person("u1"))
        store.add(person("u2", active=False))
        gone = store.add(person("u3"))
        store.update(gone.replace(deleted=True))
        assert sorted(store.all_ids()) == ["u1", "u2", "u3"]


def question(qid: str, n: int = 0, **fields) -> Question:
    stamp = f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z"
    fields.setdefault("asker_id", "u1")
    fields.setdefault("title", f"Question {qid}")
    return Question(id=qid, created_at=stamp, updated_at=stamp, **fields)


def answer(aid: str, qid: str, n: int = 0, **fields) -> Answer:
    stamp = f"2026-01-02T00:{n // 60:02d}:{n % 60:02d}Z"
    fields.setdefault("author_id", "u2")
    fields.setdefault("body", f"Answer {aid}")
    return Answer(id=aid, question_id=qid, created_at=stamp, updated_at=stamp, **fields)


def relay(qid: str, expert: str, n: int = 0, **fields) -> Relay:
    stamp = f"2026-01-03T00:{n // 60:02d}:{n % 60:02d}Z"
    return Relay(question_id=qid, expert_id=expert, created_at=stamp, updated_at=stamp, **fields)


class QuestionStoreContract:
    """What every QuestionStore must do. Subclasses provide the `store` fixture."""

    @pytest.fixture
    def store(self):
        raise NotImplementedError("an adapter's test class provides a fresh `store`")

    # questions -----------------------------------------------------------------------------
    def test_add_question_stores_it_at_version_1(self, store):
        added = store.add_question(question("q1", tags=["python", "sql"], anonymous=True))
        assert added.version == 1
        got = store.get_question("q1")
        assert got == added and got.anonymous is True and got.tags == ["python", "sql"]
        assert store.get_question("nope") is None

    def test_questions_are_read_in_batches_and_missing_ones_left_out(self, store):
        ids = [f"q{n}" for n in range(130)]  # more than one DynamoDB batch (100 keys)
        for question_id in ids:
            store.add_question(question(question_id))
        got = store.get_questions(ids + ["nope", "q3", ""])
        assert set(got) == set(ids)
        assert got["q7"] == store.get_question("q7")
        assert store.get_questions([]) == {}

    def test_add_question_twice_is_a_conflict(self, store):
        store.add_question(question("q1"))
        with pytest.raises(Conflict):
            store.add_question(question("q1", title="other"))
        assert store.get_question("q1").title == "Question q1"

    def test_update_question_is_compare_and_set(self, store):
        first = store.add_question(question("q1"))
        second = store.update_question(first.replace(status="answered", answer_count=1))
        assert second.version == 2
        with pytest.raises(Conflict):
            store.update_question(first.replace(status="closed"))
        got = store.get_question("q1")
        assert (got.status, got.answer_count, got.version) == ("answered", 1, 2)
        with pytest.raises(NotFound):
            store.update_question(question("ghost", version=1))

    def test_list_questions_newest_first_with_cursor(self, store):
        for n in range(7):
            store.add_question(question(f"q{n}", n))
        items, pages = walk(lambda **kw: store.list_questions(**kw), limit=3)
        assert [q.id for q in items] == [f"q{n}" for n in reversed(range(7))]
        assert [len(p.items) for p in pages] == [3, 3, 1]
        assert all(p.total == 7 for p in pages)

    def test_questions_on_any_of_some_tags_newest_first_each_once(self, store):
        tags = {0: ["kafka"], 1: ["sql"], 2: ["kafka", "sql"], 3: ["excel"], 4: ["sql"],
                5: ["kafka"], 6: [], 7: ["kafka", "excel"]}
        for n, question_tags in tags.items():
            store.add_question(question(f"q{n}", n, tags=question_tags))
        closed = store.get_question("q4")
        store.update_question(closed.replace(status="closed"))
        items, pages = walk(lambda **kw: store.questions_on_tags(["kafka", "sql", "kafka"], **kw),
                            limit=2)
        assert [q.id for q in items] == ["q7", "q5", "q4", "q2", "q1", "q0"]
        assert [len(p.items) for p in pages] == [2, 2, 2]
        assert all(p.total == 6 for p in pages)
        items, pages = walk(lambda **kw: store.questions_on_tags(["sql", "kafka"], status="open",
                                                                 **kw), limit=4)
        assert [q.id for q in items] == ["q7", "q5", "q2", "q1", "q0"]
        assert [p.total for p in pages] == [5, 5]
        assert store.questions_on_tags(["nothing"], limit=5).items == []
        assert store.questions_on_tags([], limit=5).items == []
        with pytest.raises(ValidationError):
            store.questions_on_tags(["kafka"], limit=2, cursor="not-a-cursor")

    def test_a_communitys_questions_changed_since_a_time_whatever_their_age(self, store):
        old = store.add_question(question("old", 0, community_id="c1"))
        store.add_question(question("quiet", 1, community_id="c1"))
        store.add_question(question("elsewhere", 2, community_id="c2"))
        store.add_question(question("open", 3))  # in no community
        store.add_question(question("new", 5, community_id="c1"))
        since = question("x", 4).created_at
        assert [q.id for q in store.community_questions_changed_since("c1", since)] == ["new"]
        # An old question answered now is a change now; the order is the order of changes.
        later = question("x", 9).created_at
        store.update_question(old.replace(answer_count=1, status="answered", updated_at=later))
        changed = store.community_questions_changed_since("c1", since)
        assert [(q.id, q.status) for q in changed] == [("new", "open"), ("old", "answered")]
        assert [q.id for q in store.community_questions_changed_since("c1", "")] == [
            "quiet", "new", "old"]
        assert store.community_questions_changed_since("c2", later) == []
        assert store.community_questions_changed_since("", "") == []

    def test_list_questions_filters_by_asker_status_and_tag(self, store):
        store.add_question(question("q1", 1, asker_id="u1", tags=["python"]))
        store.add_question(question("q2", 2, asker_id="u2", tags=["python", "sql"]))
        q3 = store.add_question(question("q3", 3, asker_id="u1", tags=["sql"]))
        store.update_question(q3.replace(status="closed"))

        def ids(**filters):
            return [q.id for q in store.list_questions(limit=10, **filters).items]

        assert ids(asker_id="u1") == ["q3", "q1"]
        assert ids(status="open") == ["q2", "q1"]
        assert ids(status="closed") == ["q3"]
        assert ids(tag="python") == ["q2", "q1"]
        assert ids(tag="sql", asker_id="u1") == ["q3"]
        assert ids(tag="sql", status="open") == ["q2"]
        assert ids(tag="rust") == []
        assert store.list_questions(limit=10, tag="python").total == 2
        # a filtered listing pages like the others, with the same total on every page
        items, pages = walk(lambda **kw: store.list_questions(tag="sql", **kw), limit=1)
        assert [q.id for q in items] == ["q3", "q2"]
        assert [p.total for p in pages] == [2, 2]
        items, pages = walk(lambda **kw: store.list_questions(tag="python", status="open", **kw),
                            limit=1)
        assert [q.id for q in items] == ["q2", "q1"] and [p.total for p in pages] == [2, 2]

    def test_list_questions_follows_tag_changes(self, store):
        first = store.add_question(question("q1", tags=["python"]))
        store.update_question(first.replace(tags=["rust"]))
        assert store.list_questions(limit=10, tag="python").items == []
        assert [q.id for q in store.list_questions(limit=10, tag="rust").items] == ["q1"]

    # answers -------------------------------------------------------------------------------
    def test_answers_are_stored_listed_oldest_first_and_compare_and_set(self, store):
        store.add_question(question("q1"))
        store.add_question(question("q2"))
        a1 = store.add_answer(answer("a1", "q1", 1, author_id="u2"))
        store.add_answer(answer("a2", "q1", 2, author_id="u3"))
        store.add_answer(answer("a3", "q2", 3, author_id="u2"))
        assert a1.version == 1 and store.get_answer("a1") == a1
        assert store.get_answer("zz") is None
        assert [a.id for a in store.answers_for("q1")] == ["a1", "a2"]
        assert [a.id for a in store.answers_by("u2")] == ["a1", "a3"]
        assert store.answers_for("q9") == [] and store.answers_by("u9") == []
        edited = store.update_answer(a1.replace(body="better"))
        assert edited.version == 2 and store.get_answer("a1").body == "better"
        with pytest.raises(Conflict):
            store.update_answer(a1.replace(body="stale"))
        assert store.get_answer("a1").body == "better"
        with pytest.raises(NotFound):
            store.update_answer(answer("ghost", "q1", version=1))

    def test_add_answer_twice_is_a_conflict(self, store):
        store.add_answer(answer("a1", "q1"))
        with pytest.raises(Conflict):
            store.add_answer(answer("a1", "q1", body="again"))

    def test_deleted_answers_are_not_listed(self, store):
        a1 = store.add_answer(answer("a1", "q1", 1))
        store.add_answer(answer("a2", "q1", 2))
        store.update_answer(a1.replace(deleted=True))
        assert [a.id for a in store.answers_for("q1")] == ["a2"]
        assert [a.id for a in store.answers_by("u2")] == ["a2"]

    def test_answers_of_many_questions_at_once(self, store):
        for n in range(12):  # more questions than are read side by side
            store.add_answer(answer(f"a{n}", f"q{n % 4}", n, author_id=f"u{n}"))
        gone = store.add_answer(answer("a99", "q1", 99))
        store.update_answer(gone.replace(deleted=True))
        got = store.answers_for_questions(["q2", "q0", "q1", "q3", "q2", "q9", ""])
        assert list(got) == ["q2", "q0", "q1", "q3", "q9", ""]  # each id once, in order
        for question_id in ("q0", "q1", "q2", "q3"):
            assert got[question_id] == store.answers_for(question_id)
        assert [a.id for a in got["q1"]] == ["a1", "a5", "a9"]  # oldest first, deleted left out
        assert got["q9"] == [] and got[""] == []
        assert store.answers_for_questions([]) == {}

    # votes ---------------------------------------------------------------------------------
    def test_votes_one_per_voter_zero_withdraws(self, store):
        store.add_answer(answer("a1", "q1"))
        assert store.set_vote("a1", "v1", 1) == 1
        assert store.set_vote("a1", "v1", 1) == 1  # the same voter again counts once
        assert store.set_vote("a1", "v2", 1) == 2
        assert store.set_vote("a1", "v3", -1) == 1
        assert store.set_vote("a1", "v1", -1) == -1  # a voter may change their mind
        assert store.set_vote("a1", "v1", 0) == 0  # and withdraw
        assert store.set_vote("a1", "v1", 0) == 0  # withdrawing twice is harmless
        assert store.get_answer("a1").score == 0
        store.set_vote("a1", "v4", 1)
        assert store.get_answer("a1").score == 1

    def test_vote_on_an_unknown_answer_is_not_found(self, store):
        with pytest.raises(NotFound):
            store.set_vote("ghost", "v1", 1)

    def test_concurrent_votes_all_count(self, store):
        store.add_answer(answer("a1", "q1"))
        barrier = threading.Barrier(10)

        def vote(n):
            barrier.wait()
            store.set_vote("a1", f"v{n}", 1)

        threads = [threading.Thread(target=vote, args=(n,)) for n in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.get_answer("a1").score == 10

    # relays --------------------------------------------------------------------------------
    def test_put_relay_creates_then_compare_and_sets(self, store):
        created = store.put_relay(relay("q1", "e1", reason="match", rank=1, score=0.5,
                                        explanation=[{"skill": "python"}],
                                        due_at="2026-01-05T09:00:00Z"))
        assert created.version == 1
        got = store.get_relay("q1", "e1")
        assert got == created and got.explanation == [{"skill": "python"}]
        declined = store.put_relay(created.replace(state="declined"))
        assert declined.version == 2 and store.get_relay("q1", "e1").state == "declined"
        with pytest.raises(Conflict):
            store.put_relay(created.replace(state="answered"))  # stale
        with pytest.raises(Conflict):
            store.put_relay(relay("q1", "e1"))  # a second "new" relay to the same person
        assert store.get_relay("q1", "e1").state == "declined"
        assert store.get_relay("q1", "nobody") is None
        invited = store.put_relay(relay("q1", "e2", reason="invited", invited_by="e1",
                                        note="You wrote it."))
        assert store.get_relay("q1", "e2") == invited and invited.invited_by == "e1"
        assert store.relays_for_question("q1")[1].note == "You wrote it."

    def test_put_relay_with_a_version_for_a_missing_relay_is_a_conflict(self, store):
        with pytest.raises(Conflict):
            store.put_relay(relay("q1", "e1", version=3))
        assert store.get_relay("q1", "e1") is None

    def test_relays_by_question_oldest_first_and_by_expert_newest_first(self, store):
        store.put_relay(relay("q1", "e1", 1))
        store.put_relay(relay("q1", "e2", 2))
        store.put_relay(relay("q2", "e1", 3, state="snoozed"))
        store.put_relay(relay("q3", "e1", 4, state="declined"))
        assert [r.expert_id for r in store.relays_for_question("q1")] == ["e1", "e2"]
        assert [r.question_id for r in store.relays_for_expert("e1")] == ["q3", "q2", "q1"]
        assert [r.question_id for r in store.relays_for_expert("e1", ["notified", "snoozed"])] \
            == ["q2", "q1"]
        assert store.relays_for_expert("e9") == [] and store.relays_for_question("q9") == []

    def test_relays_of_many_questions_at_once(self, store):
        for n in range(12):
            store.put_relay(relay(f"q{n % 4}", f"e{n}", n))
        got = store.relays_for_questions(["q3", "q0", "q9", "q3", ""])
        assert list(got) == ["q3", "q0", "q9", ""]
        assert [r.expert_id for r in got["q3"]] == ["e3", "e7", "e11"]  # oldest first
        assert got["q0"] == store.relays_for_question("q0")
        assert got["q9"] == [] and got[""] == []
        assert store.relays_for_questions([]) == {}

    def test_a_persons_relays_page_by_page_newest_first(self, store):
        states = ["notified", "answered", "declined", "snoozed", "answered", "expired", "notified"]
        for n, state in enumerate(states):
            store.put_relay(relay(f"q{n}", "e1", n, state=state))
        store.put_relay(relay("q0", "e2", 9))
        everything, pages = walk(lambda **kw: store.list_relays("e1", **kw), limit=3)
        assert [r.question_id for r in everything] == [f"q{n}" for n in reversed(range(7))]
        assert [len(p.items) for p in pages] == [3, 3, 1]
        assert all(p.total == 7 for p in pages)
        assert everything == store.relays_for_expert("e1")
        answered, pages = walk(lambda **kw: store.list_relays("e1", states=["answered"], **kw),
                               limit=1)
        assert [r.question_id for r in answered] == ["q4", "q1"]
        assert [p.total for p in pages] == [2, 2]
        open_ones, _ = walk(lambda **kw: store.list_relays(
            "e1", states=["notified", "snoozed"], **kw), limit=2)
        assert [r.question_id for r in open_ones] == ["q6", "q3", "q0"]
        moved = store.get_relay("q3", "e1")
        store.put_relay(moved.replace(state="answered"))  # keeps its place among the answered
        answered, _ = walk(lambda **kw: store.list_relays("e1", states=["answered"], **kw), limit=2)
        assert [r.question_id for r in answered] == ["q4", "q3", "q1"]
        assert store.list_relays("e9", limit=5).items == []
        with pytest.raises(ValidationError):
            store.list_relays("e1", limit=2, cursor="not-a-cursor")

    def test_relay_update_keeps_its_place_in_the_order(self, store):
        first = store.put_relay(relay("q1", "e1", 1))
        store.put_relay(relay("q1", "e2", 2))
        store.put_relay(first.replace(state="answered"))
        assert [r.expert_id for r in store.relays_for_question("q1")] == ["e1", "e2"]

    def test_open_relay_counts_count_notified_and_snoozed_only(self, store):
        store.put_relay(relay("q1", "e1", 1))
        store.put_relay(relay("q2", "e1", 2, state="snoozed"))
        store.put_relay(relay("q3", "e1", 3, state="answered"))
        store.put_relay(relay("q1", "e2", 4, state="declined"))
        store.put_relay(relay("q2", "e2", 5, state="expired"))
        store.put_relay(relay("q3", "e3", 6))
        assert store.open_relay_counts(["e1", "e2", "e3", "e4", "e1"]) == {
            "e1": 2, "e2": 0, "e3": 1, "e4": 0}
        assert store.open_relay_counts([]) == {}

    def test_relays_due_are_open_relays_at_or_past_their_deadline(self, store):
        store.put_relay(relay("q1", "e1", 1, due_at="2026-01-05T08:00:00Z"))
        store.put_relay(relay("q1", "e2", 2, due_at="2026-01-05T09:00:00Z"))  # exactly now
        store.put_relay(relay("q1", "e3", 3, due_at="2026-01-05T10:00:00Z"))  # later
        store.put_relay(relay("q2", "e1", 4, due_at="2026-01-05T07:00:00Z", state="snoozed"))
        store.put_relay(relay("q2", "e2", 5, due_at="2026-01-05T07:00:00Z", state="answered"))
        store.put_relay(relay("q2", "e3", 6, due_at="2026-01-05T07:00:00Z", state="declined"))
        store.put_relay(relay("q3", "e1", 7, due_at=""))  # no deadline
        due = store.relays_due("2026-01-05T09:00:00Z")
        assert sorted((r.question_id, r.expert_id) for r in due) == [
            ("q1", "e1"), ("q1", "e2"), ("q2", "e1")]
        assert store.relays_due("2026-01-01T00:00:00Z") == []


def stamp(n: int) -> str:
    return f"2026-02-01T00:{n // 60:02d}:{n % 60:02d}Z"


def community(cid: str, name: str | None = None, **fields) -> Community:
    return Community(id=cid, name=name or f"Community {cid}", created_at=stamp(0),
                     updated_at=stamp(0), **fields)


def member(cid: str, pid: str, n: int = 0) -> Membership:
    return Membership(community_id=cid, person_id=pid, joined_at=stamp(n))


def role(cid: str, pid: str, kind: str = "manager", n: int = 0) -> CommunityRole:
    return CommunityRole(community_id=cid, person_id=pid, role=kind, assigned_by="admin",
                         assigned_at=stamp(n))


def thanks(tid: str, to_id: str, from_id: str = "m1", n: int = 0) -> Thanks:
    return Thanks(id=tid, community_id="c1", from_id=from_id, to_id=to_id,
                  message=f"Thanks {tid}", created_at=stamp(n))


class CommunityStoreContract:
    """What every CommunityStore must do. Subclasses provide the `store` fixture."""

    @pytest.fixture
    def store(self):
        raise NotImplementedError("an adapter's test class provides a fresh `store`")

    # communities ---------------------------------------------------------------------------
    def test_add_community_stores_it_at_version_1(self, store):
        added = store.add_community(community("c1", "Data", tags=["sql"], skills=["Python"],
                                              languages=["fr", "en"], description="All data"))
        assert added.version == 1
        got = store.get_community("c1")
        assert got == added
        assert got.tags == ["sql"] and got.languages == ["fr", "en"]
        assert store.get_community("nope") is None

    def test_an_existing_id_is_a_conflict_on_the_id_and_keeps_the_first(self, store):
        store.add_community(community("c1", "Data"))
        with pytest.raises(Conflict) as refused:
            store.add_community(community("c1", "Other"))
        assert refused.value.details[0]["field"] == "id"
        assert store.get_community("c1").name == "Data"
        store.add_community(community("c2", "Other"))  # the refused name was not held

    @pytest.mark.parametrize("taken", ["data science", "DATA SCIENCE", "  Data   Science "])
    def test_names_are_unique_whatever_the_case_or_spacing(self, store, taken):
        store.add_community(community("c1", "Data Science"))
        with pytest.raises(Conflict) as refused:
            store.add_community(community("c2", taken))
        assert refused.value.details == [{"field": "name", "message": "already taken"}]
        assert store.get_community("c2") is None

    def test_update_is_compare_and_set_on_the_version(self, store):
        first = store.add_community(community("c1", "Data"))
        second = store.update_community(first.replace(description="Tables"))
        assert second.version == 2 and store.get_community("c1") == second
        with pytest.raises(Conflict) as refused:
            store.update_community(first.replace(description="Stale"))
        assert refused.value.details[0]["field"] == "version"
        assert store.get_community("c1").description == "Tables"
        with pytest.raises(NotFound):
            store.update_community(community("ghost", version=1))

    def test_a_rename_frees_the_old_name_and_holds_the_new(self, store):
        first = store.add_community(community("c1", "Data"))
        store.update_community(first.replace(name="Analytics"))
        store.add_community(community("c2", "data"))
        with pytest.raises(Conflict):
            store.add_community(community("c3", "ANALYTICS"))
        renamed = store.get_community("c1")
        assert store.update_community(renamed.replace(name="Analytics  ")).version == 3

    def test_a_rename_to_a_taken_name_is_a_conflict_and_changes_nothing(self, store):
        store.add_community(community("c1", "Data"))
        second = store.add_community(community("c2", "Legal"))
        with pytest.raises(Conflict) as refused:
            store.update_community(second.replace(name="DATA"))
        assert refused.value.details == [{"field": "name", "message": "already taken"}]
        assert store.get_community("c2") == second
        with pytest.raises(Conflict):  # c2 still holds its name
            store.add_community(community("c3", "legal "))

    def test_concurrent_renames_to_one_name_let_exactly_one_win(self, store):
        firsts = [store.add_community(community(f"c{n}", f"Name {n}")) for n in range(4)]
        barrier = threading.Barrier(len(firsts))
        outcomes = []

        def rename(first):
            barrier.wait()
            try:
                store.update_community(first.replace(name="Wanted"))
                outcomes.append("won")
            except Conflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=rename, args=(f,)) for f in firsts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["conflict"] * 3 + ["won"]
        named = [c.name for c in (store.get_community(f.id) for f in firsts)]
        assert named.count("Wanted") == 1

    def test_list_communities_by_name_then_id_with_pages(self, store):
        names = ["data science", "Zeta", "Data", "accounting", "Émile", "Data-Ops", "b"]
        for n, name in enumerate(names):
            store.add_community(community(f"c{n}", name))
        items, pages = walk(lambda **kw: store.list_communities(**kw), limit=3)
        expected = sorted(names, key=lambda name: " ".join(name.casefold().split()))
        assert [c.name for c in items] == expected
        assert [len(p.items) for p in pages] == [3, 3, 1]
        assert all(p.total == 7 for p in pages)

    def test_list_communities_among_ids(self, store):
        for n, name in enumerate(["Delta", "alpha", "Charlie", "bravo"]):
            store.add_community(community(f"c{n}", name))
        listing = (lambda **kw: store.list_communities(ids=["c0", "c3", "ghost", "c1", "c0"],
                                                       **kw))
        items, pages = walk(listing, limit=2)
        assert [c.name for c in items] == ["alpha", "bravo", "Delta"]
        assert [len(p.items) for p in pages] == [2, 1]
        assert all(p.total == 3 for p in pages)
        empty = store.list_communities(limit=10, ids=[])
        assert empty.items == [] and empty.total == 0 and empty.next_cursor is None

    def test_a_cursor_the_store_did_not_make_is_refused(self, store):
        store.add_community(community("c1"))
        store.add_member(member("c1", "u1"))
        for listing in (lambda: store.list_communities(limit=1, cursor="not-a-cursor"),
                        lambda: store.list_communities(limit=1, ids=["c1"], cursor="x!"),
                        lambda: store.list_members("c1", limit=1, cursor="not-a-cursor")):
            with pytest.raises(ValidationError):
                listing()

    # members -------------------------------------------------------------------------------
    def test_members_join_once_and_leave_once(self, store):
        store.add_community(community("c1"))
        assert store.add_member(member("c1", "u1", 1)) is True
        assert store.add_member(member("c1", "u1", 2)) is False  # nothing changes
        assert [m.joined_at for m in store.memberships_of("u1")] == [stamp(1)]
        assert store.member_ids("c1") == {"u1"}
        assert store.remove_member("c1", "u1") is True
        assert store.remove_member("c1", "u1") is False
        assert store.member_ids("c1") == set() and store.memberships_of("u1") == []
        assert store.add_member(member("c1", "u1", 3)) is True  # and may join again

    def test_list_members_oldest_first_with_pages(self, store):
        store.add_community(community("c1"))
        store.add_community(community("c2"))
        for n, pid in enumerate(["u5", "u1", "u4", "u2", "u3"]):
            store.add_member(member("c1", pid, n))
        store.add_member(member("c2", "u9", 9))
        items, pages = walk(lambda **kw: store.list_members("c1", **kw), limit=2)
        assert [m.person_id for m in items] == ["u5", "u1", "u4", "u2", "u3"]
        assert all(m.community_id == "c1" for m in items)
        assert [len(p.items) for p in pages] == [2, 2, 1]
        assert all(p.total == 5 for p in pages)
        assert store.member_ids("c1") == {"u1", "u2", "u3", "u4", "u5"}
        store.remove_member("c1", "u4")
        assert [m.person_id for m in store.list_members("c1", limit=10).items] == [
            "u5", "u1", "u2", "u3"]
        empty = store.list_members("c3", limit=10)
        assert empty.items == [] and empty.total == 0

    def test_member_counts_include_communities_without_members(self, store):
        for cid, people in (("c1", ["u1", "u2", "u3"]), ("c2", ["u1"]), ("c3", [])):
            store.add_community(community(cid))
            for pid in people:
                store.add_member(member(cid, pid))
        assert store.member_counts(["c1", "c2", "c3", "ghost", "c1"]) == {
            "c1": 3, "c2": 1, "c3": 0, "ghost": 0}
        assert store.member_counts([]) == {}

    def test_memberships_of_a_person_oldest_first(self, store):
        for n, cid in enumerate(["c3", "c1", "c2"]):
            store.add_community(community(cid))
            store.add_member(member(cid, "u1", n))
        store.add_member(member("c1", "u2", 5))
        assert [m.community_id for m in store.memberships_of("u1")] == ["c3", "c1", "c2"]
        assert store.memberships_of("nobody") == []

    # roles ---------------------------------------------------------------------------------
    def test_roles_are_granted_once_and_withdrawn_once(self, store):
        store.add_community(community("c1"))
        assert store.set_role(role("c1", "u1", "manager", 1)) is True
        assert store.set_role(role("c1", "u1", "manager", 2)) is False
        assert store.set_role(role("c1", "u1", "lead", 3)) is True  # two roles in one place
        assert [(r.role, r.assigned_at) for r in store.roles_of("u1")] == [
            ("manager", stamp(1)), ("lead", stamp(3))]
        assert store.remove_role("c1", "u1", "manager") is True
        assert store.remove_role("c1", "u1", "manager") is False
        assert store.remove_role("c1", "u2", "lead") is False
        assert [r.role for r in store.roles_in("c1")] == ["lead"]

    def test_roles_in_a_community_and_of_a_person_oldest_first(self, store):
        store.add_community(community("c1"))
        store.add_community(community("c2"))
        store.set_role(role("c1", "u3", "manager", 1))
        store.set_role(role("c2", "u1", "lead", 2))
        store.set_role(role("c1", "u1", "manager", 3))
        store.set_role(role("c1", "u2", "lead", 4))
        got = store.roles_in("c1")
        assert [(r.person_id, r.role) for r in got] == [("u3", "manager"), ("u1", "manager"),
                                                         ("u2", "lead")]
        assert got[0] == role("c1", "u3", "manager", 1)
        assert [(r.community_id, r.role) for r in store.roles_of("u1")] == [
            ("c2", "lead"), ("c1", "manager")]
        assert store.roles_in("c9") == [] and store.roles_of("nobody") == []

    # questions asked in a community --------------------------------------------------------
    def test_question_ids_by_time_then_id_since_a_time(self, store):
        store.add_community(community("c1"))
        store.add_question("c1", "q3", stamp(2))
        store.add_question("c1", "q1", stamp(1))
        store.add_question("c1", "q2", stamp(2))
        store.add_question("c1", "q0", stamp(5))
        store.add_question("c2", "q9", stamp(1))
        store.add_question("c1", "q1", stamp(9))  # the same pair again: harmless
        assert store.question_ids("c1") == ["q1", "q2", "q3", "q0"]
        assert store.question_ids("c1", since=stamp(2)) == ["q2", "q3", "q0"]  # inclusive
        assert store.question_ids("c1", since=stamp(6)) == []
        assert store.question_ids("c9") == []

    # thanks --------------------------------------------------------------------------------
    def test_thanks_newest_first_to_and_from_a_person(self, store):
        for n, (tid, to_id, from_id) in enumerate([("t1", "u1", "m1"), ("t2", "u2", "m1"),
                                                   ("t3", "u1", "m2"), ("t4", "u1", "m1")]):
            assert store.add_thanks(thanks(tid, to_id, from_id, n)) == thanks(tid, to_id,
                                                                              from_id, n)
        assert [t.id for t in store.thanks_to("u1")] == ["t4", "t3", "t1"]
        assert [t.id for t in store.thanks_from("m1")] == ["t4", "t2", "t1"]
        assert store.thanks_to("u1")[0] == thanks("t4", "u1", "m1", 3)
        assert store.thanks_to("m1") == [] and store.thanks_from("u1") == []

    def test_thanks_with_an_existing_id_is_a_conflict_and_keeps_the_first(self, store):
        store.add_thanks(thanks("t1", "u1"))
        with pytest.raises(Conflict):
            store.add_thanks(thanks("t1", "u2"))
        assert [t.id for t in store.thanks_to("u1")] == ["t1"]
        assert store.thanks_to("u2") == []

    # deletion ------------------------------------------------------------------------------
    def test_forget_person_erases_memberships_roles_and_thanks_received(self, store):
        for cid in ("c1", "c2"):
            store.add_community(community(cid))
            store.add_member(member(cid, "u1"))
            store.add_member(member(cid, "u2"))
        store.set_role(role("c1", "u1", "manager"))
        store.set_role(role("c1", "u1", "lead"))
        store.set_role(role("c1", "u2", "manager"))
        store.add_thanks(thanks("t1", "u1", "u2", 1))
        store.add_thanks(thanks("t2", "u2", "u1", 2))  # given by u1: stays
        assert store.forget_person("u1") == {"memberships": 2, "roles": 2,
                                             "thanks_received": 1}
        assert store.memberships_of("u1") == [] and store.roles_of("u1") == []
        assert store.thanks_to("u1") == []
        assert [t.id for t in store.thanks_from("u1")] == ["t2"]
        assert store.member_ids("c1") == {"u2"} and store.member_counts(["c2"]) == {"c2": 1}
        assert [(r.person_id, r.role) for r in store.roles_in("c1")] == [("u2", "manager")]
        assert [t.id for t in store.thanks_to("u2")] == ["t2"]
        assert store.forget_person("u1") == {"memberships": 0, "roles": 0,
                                             "thanks_received": 0}


class SettingStoreContract:
    """What every SettingStore must do. Subclasses provide the `store` fixture."""

    @pytest.fixture
    def store(self):
        raise NotImplementedError("an adapter's test class provides a fresh `store`")

    def test_a_setting_never_set_is_none_at_version_0(self, store):
        assert store.get_setting("modules") == (None, 0)

    def test_put_is_compare_and_set_on_the_version(self, store):
        assert store.put_setting("modules", {"email": False}, 0) == 1
        assert store.get_setting("modules") == ({"email": False}, 1)
        assert store.put_setting("modules", {"email": True, "gamification": False}, 1) == 2
        for stale in (0, 1, 3):
            with pytest.raises(Conflict) as refused:
                store.put_setting("modules", {"email": False}, stale)
            assert refused.value.details == [{"field": "version", "message": "current is 2"}]
        assert store.get_setting("modules") == ({"email": True, "gamification": False}, 2)

    def test_a_put_from_a_version_on_a_missing_setting_is_a_conflict(self, store):
        with pytest.raises(Conflict):
            store.put_setting("modules", {"email": False}, 1)
        assert store.get_setting("modules") == (None, 0)

    def test_values_come_back_as_they_were_put(self, store):
        value = {"ratio": 2.0, "third": 1 / 3, "count": 3, "none": None, "text": "é",
                 "list": [1, "a", {"b": False}], "empty": ""}
        store.put_setting("a", value, 0)
        store.put_setting("b", [1.5, 2], 0)
        store.put_setting("c", "plain", 0)
        got, _ = store.get_setting("a")
        assert got == value and type(got["ratio"]) is float and type(got["count"]) is int
        assert store.get_setting("b") == ([1.5, 2], 1)
        assert store.get_setting("c") == ("plain", 1)

    def test_concurrent_puts_from_one_version_let_exactly_one_win(self, store):
        store.put_setting("modules", {}, 0)
        barrier = threading.Barrier(6)
        outcomes = []

        def put(n):
            barrier.wait()
            try:
                store.put_setting("modules", {"n": n}, 1)
                outcomes.append(n)
            except Conflict:
                pass

        threads = [threading.Thread(target=put, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(outcomes) == 1
        assert store.get_setting("modules") == ({"n": outcomes[0]}, 2)


def entry(eid: str, n: int, action: str, actor_id: str | None = "admin1", **fields) -> AuditEntry:
    return AuditEntry(id=eid, at=stamp(n), actor_id=actor_id,
                      actor_role="admin" if actor_id else "system", action=action, **fields)


class AuditLogContract:
    """What every AuditLog must do. Subclasses provide the `store` fixture."""

    @pytest.fixture
    def store(self):
        raise NotImplementedError("an adapter's test class provides a fresh `store`")

    @pytest.fixture
    def log(self, store):
        for n, (action, actor) in enumerate([
                ("community.created", "admin1"), ("modules.changed", "admin2"),
                ("community.role.assigned", "admin1"), ("scim.write", None),
                ("communities.imported", "admin2"), ("community.role.withdrawn", "admin2"),
                ("community", "admin1"), ("community.created", "admin2")]):
            store.append(entry(f"e{n}", n, action, actor))
        return store

    def test_append_returns_the_entry_and_list_gives_it_back(self, store):
        added = entry("e1", 1, "hr.sync", target="profiles",
                      details={"created": 3, "ids": ["u1", "u2"], "nested": {"ok": True},
                               "ratio": 0.25})
        assert store.append(added) == added
        assert store.list(limit=10).items == [added]
        system = entry("e2", 2, "scim.write", None, target="u1")
        store.append(system)
        assert store.list(limit=10).items[0] == system

    def test_entries_newest_first_with_pages(self, log):
        items, pages = walk(lambda **kw: log.list(**kw), limit=3)
        assert [e.id for e in items] == [f"e{n}" for n in reversed(range(8))]
        assert [len(p.items) for p in pages] == [3, 3, 2]
        assert all(p.total == 8 for p in pages)

    @pytest.mark.parametrize("action,expected", [
        ("community.created", ["e7", "e0"]),
        ("community.", ["e7", "e5", "e2", "e0"]),  # a prefix: every community action
        ("community.role.", ["e5", "e2"]),
        ("community", ["e6"]),  # no dot: that exact action only
        ("communities.", ["e4"]),
        ("scim.write", ["e3"]),
        ("community.role", []),
        ("nothing.", []),
    ])
    def test_filter_by_action_or_action_prefix(self, log, action, expected):
        items, pages = walk(lambda **kw: log.list(action=action, **kw), limit=1)
        assert [e.id for e in items] == expected
        assert all(p.total == len(expected) for p in pages)

    @pytest.mark.parametrize("actor_id,action,expected", [
        ("admin1", None, ["e6", "e2", "e0"]),
        ("admin2", "community.", ["e7", "e5"]),
        ("admin2", "modules.changed", ["e1"]),
        ("admin1", "scim.write", []),
        ("nobody", None, []),
    ])
    def test_filter_by_actor_and_action(self, log, actor_id, action, expected):
        items, pages = walk(lambda **kw: log.list(actor_id=actor_id, action=action, **kw),
                            limit=2)
        assert [e.id for e in items] == expected
        assert all(p.total == len(expected) for p in pages)

    def test_a_cursor_the_store_did_not_make_is_refused(self, log):
        with pytest.raises(ValidationError):
            log.list(limit=2, cursor="not-a-cursor")


class VoteReaderContract:
    """What every VoteReader must do: read the votes its question store wrote. Subclasses
    provide `questions` and `votes` fixtures on one fresh backend."""

    @pytest.fixture
    def questions(self):
        raise NotImplementedError("an adapter's test class provides a fresh QuestionStore")

    @pytest.fixture
    def votes(self, questions):
        raise NotImplementedError("an adapter's test class provides its VoteReader")

    def test_votes_by_a_voter_ordered_by_answer(self, questions, votes):
        for aid in ("a3", "a1", "a2", "a4"):
            questions.add_answer(answer(aid, "q1"))
        questions.set_vote("a3", "v1", 1)
        questions.set_vote("a1", "v1", -1)
        questions.set_vote("a2", "v1", 1)
        questions.set_vote("a2", "v2", -1)
        questions.set_vote("a4", "v2", 1)
        assert votes.votes_by("v1") == [{"answer_id": "a1", "value": -1},
                                        {"answer_id": "a2", "value": 1},
                                        {"answer_id": "a3", "value": 1}]

    def test_changed_and_withdrawn_votes(self, questions, votes):
        questions.add_answer(answer("a1", "q1"))
        questions.add_answer(answer("a2", "q1"))
        questions.set_vote("a1", "v1", 1)
        questions.set_vote("a2", "v1", 1)
        questions.set_vote("a1", "v1", -1)
        questions.set_vote("a2", "v1", 0)
        assert votes.votes_by("v1") == [{"answer_id": "a1", "value": -1}]

    def test_a_person_who_never_voted_has_no_votes(self, questions, votes):
        questions.add_answer(answer("a1", "q1"))
        questions.set_vote("a1", "v1", 1)
        assert votes.votes_by("v2") == []
