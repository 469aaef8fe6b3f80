"""The operations the commands call, without click and without services.

The policy topics are an in-memory :class:`~deskpulse.ops.policies.PolicyTopics`
(records applied as the workers' follower applies them), the store a list of rows.
"""

from __future__ import annotations

import pytest

from deskpulse.core.errors import StackError
from deskpulse.ops.demo import STORED_EVENTS_SQL, wait_until_stored
from deskpulse.ops.policies import add_dnt, remove_dnt, set_category, sync_teams
from schemas.categories import Rule, team_key
from schemas.policy import PolicySet
from schemas.topics import POLICY_CATEGORY, POLICY_DNT

T = 1_795_000_000_000


class MemoryTopics:
    """The compacted policy topics in memory: the last record per key, in order."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict | None] = {}
        self.published: list[tuple[str, str, dict | None]] = []

    def read(self) -> PolicySet:
        policies = PolicySet()
        for (topic, key), record in self.records.items():
            policies.apply(topic, key, record)
        return policies

    def publish(self, topic: str, key: str, record: dict | None) -> None:
        self.published.append((topic, key, record))
        self.records[(topic, key)] = record


def test_dnt_add_keeps_the_earlier_periods_and_remove_ends_the_current_one() -> None:
    topics = MemoryTopics()
    add_dnt(topics, "acme", "user", "bob", "leave", T)
    removed = remove_dnt(topics, "acme", "user", "bob", T + 1000)
    assert removed is not None and not removed.listed_at(T + 2000)
    again = add_dnt(topics, "acme", "user", "bob", "again", T + 5000)
    assert again.periods == ((T, T + 1000), (T + 5000, None))
    assert [p[0] for p in topics.published] == [POLICY_DNT] * 3
    assert topics.read().blocked("acme", "bob", "pc", T + 6000)
    assert not topics.read().blocked("other", "bob", "pc", T + 6000)


def test_dnt_remove_of_a_subject_not_listed_publishes_nothing() -> None:
    topics = MemoryTopics()
    assert remove_dnt(topics, "acme", "host", "pc-1", T) is None
    add_dnt(topics, "acme", "host", "pc-1", "", T)
    remove_dnt(topics, "acme", "host", "pc-1", T + 1)
    assert remove_dnt(topics, "acme", "host", "pc-1", T + 2) is None, "tracked again already"
    assert len(topics.published) == 2


def _rule(category: str, *, team: str = "", created_ms: int = T) -> Rule:
    return Rule.build("app", "code", category, "productive", tenant="acme", team=team,
                      created_ms=created_ms)


def test_category_set_changes_a_rule_in_place_and_says_so() -> None:
    topics = MemoryTopics()
    first = set_category(topics, _rule("development"))
    assert not first.changed and first.team_known
    second = set_category(topics, _rule("editing", created_ms=T + 99))
    assert second.changed and second.rule.created_ms == T, "keeps its place in the order"
    [stored] = topics.read().categories.tenant_rules("acme")
    assert stored.category == "editing" and stored.created_ms == T


def test_category_set_for_a_team_the_workers_do_not_know_says_so() -> None:
    topics = MemoryTopics()
    assert not set_category(topics, _rule("dev", team="media")).team_known
    topics.publish(POLICY_CATEGORY, team_key("acme", "media"), {"members": ["ann"]})
    assert set_category(topics, _rule("dev", team="media")).team_known


class Rows:
    def __init__(self, rows: list[list]) -> None:
        self.rows = rows
        self.sql: list[str] = []

    def query(self, sql: str) -> tuple[list[str], list[list]]:
        self.sql.append(sql)
        return ["team", "users"], self.rows

    def command(self, sql: str) -> None:
        raise AssertionError("sync-teams only reads the store")


def test_sync_teams_publishes_changed_teams_only_and_removes_vanished_ones() -> None:
    topics = MemoryTopics()
    topics.publish(POLICY_CATEGORY, team_key("acme", "ops"), {"members": ["carl"]})
    topics.publish(POLICY_CATEGORY, team_key("acme", "old"), {"members": ["dora"]})
    topics.published.clear()
    store = Rows([["media", ["bob", "ann", "bob"]], ["ops", ["carl"]]])
    synced = sync_teams(topics, store, "ac'me")
    assert "'ac\\'me'" in store.sql[0], "the tenant is a quoted literal"
    synced = sync_teams(topics, store, "acme")
    assert synced.teams == {"media": ["ann", "bob"], "ops": ["carl"]}
    assert synced.removed == ["old"]
    assert topics.read().categories.tenant_teams("acme") == {"media": frozenset({"ann", "bob"}),
                                                             "ops": frozenset({"carl"})}
    published = [(key, record) for _, key, record in topics.published
                 if key.startswith("acme/")]
    assert published == [(team_key("acme", "media"), {"members": ["ann", "bob"]}),
                         (team_key("acme", "old"), None)], "ops was unchanged"


class Counting:
    def __init__(self, counts: list[int]) -> None:
        self.counts = counts

    def query(self, sql: str) -> tuple[list[str], list[list]]:
        assert sql == STORED_EVENTS_SQL
        return ["n"], [[self.counts.pop(0) if len(self.counts) > 1 else self.counts[0]]]

    def command(self, sql: str) -> None:
        raise AssertionError


def test_waiting_until_stored_returns_once_every_event_is_in(monkeypatch) -> None:
    monkeypatch.setattr("deskpulse.ops.demo.time.sleep", lambda s: None)
    shown: list[str] = []
    assert wait_until_stored(Counting([3, 7, 10]), 10, timeout=60, echo=shown.append) == 10
    assert shown == ["\r  stored 3/10 events", "\r  stored 7/10 events",
                     "\r  stored 10/10 events", "\n"]


def test_waiting_until_stored_stops_when_a_part_of_the_stack_died(monkeypatch) -> None:
    monkeypatch.setattr("deskpulse.ops.demo.time.sleep", lambda s: None)

    class Dead:
        name, log_path = "sink", "/tmp/sink.log"

        class proc:  # noqa: N801 - stands in for subprocess.Popen
            returncode = 70

        @staticmethod
        def log_tail() -> str:
            return "boom"

    class Stack:
        @staticmethod
        def dead_child() -> Dead:
            return Dead()

    with pytest.raises(StackError, match="sink exited with code 70"):
        wait_until_stored(Counting([0]), 10, timeout=60, echo=lambda s: None, stack=Stack())
