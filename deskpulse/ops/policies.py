"""Policy operations of the commands: read the policy topics, change a record, publish it.

Every operation takes a :class:`PolicyTopics`: the Kafka policy topics in the CLI
(:class:`KafkaPolicyTopics`), an in-memory stand-in in the unit tests. Each returns
what changed; the command prints it. Input is checked (``Rule.build``,
``Schedule.build``) before an operation runs, so nothing is published for bad input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

from deskpulse.core.settings import KafkaSettings
from deskpulse.core.sql import SqlStore, literal
from schemas.categories import Rule, team_key
from schemas.policy import DntEntry, PolicySet, dnt_key
from schemas.topics import POLICY_CATEGORY, POLICY_DNT


class PolicyTopics(Protocol):
    """The policy topics as the operations need them."""

    def read(self) -> PolicySet:
        """Every policy, read to the end of the topics."""
        ...

    def publish(self, topic: str, key: str, record: dict | None) -> None:
        """Write one record (``None``: a tombstone), acknowledged by the broker."""
        ...


@dataclass(frozen=True)
class KafkaPolicyTopics:
    """:class:`PolicyTopics` on a broker (:mod:`deskpulse.adapters.policy_topics`)."""

    kafka: KafkaSettings

    def read(self) -> PolicySet:
        from deskpulse.adapters.policy_topics import read_policies
        return read_policies(self.kafka)

    def publish(self, topic: str, key: str, record: dict | None) -> None:
        from deskpulse.adapters.policy_topics import publish_policy
        publish_policy(self.kafka, topic, key, record)


def add_dnt(topics: PolicyTopics, tenant: str, kind: str, name: str, reason: str,
            now_ms: int) -> DntEntry:
    """List a subject from ``now_ms`` on; its earlier periods stay listed."""
    key = dnt_key(tenant, kind, name)
    current = topics.read().dnt.get(key) or DntEntry(tenant, kind, name)
    entry = current.add(now_ms, reason)
    topics.publish(POLICY_DNT, key, entry.to_record())
    return entry


def remove_dnt(topics: PolicyTopics, tenant: str, kind: str, name: str,
               now_ms: int) -> DntEntry | None:
    """Track a listed subject again from ``now_ms``; None (nothing published) when it is
    not listed now."""
    key = dnt_key(tenant, kind, name)
    current = topics.read().dnt.get(key)
    if current is None or not current.listed_at(now_ms):
        return None
    entry = current.remove(now_ms)
    topics.publish(POLICY_DNT, key, entry.to_record())
    return entry


@dataclass(frozen=True)
class RuleChange:
    rule: Rule
    #: the rule existed (with another label): it keeps its place in the order
    changed: bool
    #: the workers know members of the rule's team (always True for a rule without team)
    team_known: bool


def set_category(topics: PolicyTopics, rule: Rule) -> RuleChange:
    """Add a rule, or change the label of the rule with the same key."""
    book = topics.read().categories
    existing = book.rules.get(rule.key)
    if existing is not None:
        rule = dataclasses.replace(rule, created_ms=existing.created_ms)
    topics.publish(POLICY_CATEGORY, rule.key, rule.to_record())
    return RuleChange(rule, existing is not None,
                      not rule.team or rule.team in book.tenant_teams(rule.tenant))


@dataclass(frozen=True)
class TeamSync:
    #: team -> its members, as in ClickHouse (in team order)
    teams: dict[str, list[str]]
    #: teams the workers knew that ClickHouse no longer has
    removed: list[str]


def sync_teams(topics: PolicyTopics, store: SqlStore, tenant: str) -> TeamSync:
    """Copy the tenant's team membership from ``deskpulse.team_members`` to the policy
    topic; only changed teams are published, vanished ones removed."""
    _, rows = store.query(
        "SELECT team, groupArray(user) FROM deskpulse.team_members "
        f"WHERE tenant = {literal(tenant)} GROUP BY team ORDER BY team")
    teams = {team: sorted(set(users)) for team, users in rows}
    known = topics.read().categories.tenant_teams(tenant)
    for team, members in teams.items():
        if frozenset(members) != known.get(team):
            topics.publish(POLICY_CATEGORY, team_key(tenant, team), {"members": members})
    removed = sorted(set(known) - set(teams))
    for team in removed:
        topics.publish(POLICY_CATEGORY, team_key(tenant, team), None)
    return TeamSync(teams, removed)
