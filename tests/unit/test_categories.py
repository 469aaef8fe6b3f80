"""Productivity rules: precedence, subdomains, refused patterns, the worker's labels."""

from __future__ import annotations

import re
import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpulse.core.errors import PolicyError
from schemas.categories import (
    KINDS,
    UNCATEGORIZED,
    Label,
    Rule,
    RuleBook,
    TenantMatcher,
    defaults_key,
    domain_suffixes,
    rule_key,
    team_key,
)
from schemas.category_defaults import DEFAULT_RULES
from schemas.policy import PolicySet
from streams.core import Accepted, process
from streams.seen import PartitionedSeenIndex


def rule(kind, pattern, category, productivity="neutral", tenant="acme", team="", at=0):
    return Rule.build(kind, pattern, category, productivity, tenant=tenant, team=team,
                      created_ms=at)


def book(*rules: Rule, defaults=(), teams=None) -> RuleBook:
    b = RuleBook(tuple(defaults))
    for r in rules:
        b.apply(r.key, r.to_record())
    for team, members in (teams or {}).items():
        b.apply(team_key("acme", team), {"members": sorted(members)})
    return b


def test_domain_beats_title_beats_app():
    b = book(rule("app", "firefox", "browsing", "neutral"),
             rule("title", r"pull request", "review", "productive"),
             rule("domain", "github.com", "development", "productive"))
    m = b.matcher("acme")
    assert m.label("u", "firefox", "github.com", "Pull request #1") == \
        Label("development", "productive")
    assert m.label("u", "firefox", "example.org", "Pull request #1") == \
        Label("review", "productive")
    assert m.label("u", "firefox", "example.org", "Weather") == Label("browsing", "neutral")
    assert m.label("u", "Firefox", "", "") == Label("browsing", "neutral"), "apps ignore case"
    assert m.label("u", "vlc", "", "film") == UNCATEGORIZED


def test_subdomains_match_and_the_longest_domain_wins():
    b = book(rule("domain", "google.com", "reference"),
             rule("domain", "docs.google.com", "office", "productive"))
    m = b.matcher("acme")
    assert m.label("u", "chrome", "docs.google.com", "") == Label("office", "productive")
    assert m.label("u", "chrome", "a.docs.google.com", "") == Label("office", "productive")
    assert m.label("u", "chrome", "maps.google.com", "") == Label("reference", "neutral")
    assert m.label("u", "chrome", "google.com", "") == Label("reference", "neutral")
    assert m.label("u", "chrome", "notgoogle.com", "") == UNCATEGORIZED
    assert m.label("u", "chrome", "google.com.evil.net", "") == UNCATEGORIZED
    assert domain_suffixes("a.b.com") == ["a.b.com", "b.com", "com"]


def test_tenant_rules_override_defaults_and_teams_override_the_tenant():
    defaults = [rule("domain", "youtube.com", "entertainment", "unproductive", tenant=""),
                rule("domain", "docs.google.com", "office", "productive", tenant="")]
    b = book(rule("domain", "youtube.com", "marketing", "neutral"),
             rule("domain", "youtube.com", "video", "productive", team="media"),
             rule("domain", "google.com", "search"),
             defaults=defaults, teams={"media": {"mia"}})
    m = b.matcher("acme")
    assert m.label("bob", "chrome", "youtube.com", "") == Label("marketing", "neutral")
    assert m.label("mia", "chrome", "youtube.com", "") == Label("video", "productive")
    # explicit beats default within a kind: the tenant's google.com covers docs.google.com
    assert m.label("bob", "chrome", "docs.google.com", "") == Label("search", "neutral")
    other = b.matcher("globex")
    assert other.label("bob", "chrome", "youtube.com", "") == \
        Label("entertainment", "unproductive"), "another tenant sees only the defaults"


def test_title_rules_apply_in_the_order_they_were_set():
    b = book(rule("title", "standup", "meetings", at=2), rule("title", "daily", "ritual", at=1))
    m = b.matcher("acme")
    assert m.label("u", "zoom", "", "Daily standup") == Label("ritual", "neutral")
    assert m.label("u", "zoom", "", "Standup notes") == Label("meetings", "neutral")


def test_a_tombstone_removes_a_rule_and_the_matcher_follows():
    r = rule("app", "slack", "chat")
    b = book(r)
    assert b.label("acme", "u", "slack", "", "") == Label("chat", "neutral")
    b.apply(r.key, None)
    assert b.label("acme", "u", "slack", "", "") == UNCATEGORIZED
    b.apply(team_key("acme", "x"), {"members": ["u"]})
    b.apply(team_key("acme", "x"), None)
    assert b.tenant_teams("acme") == {}


def test_a_tenant_can_switch_the_shipped_defaults_off_and_on():
    b = RuleBook(DEFAULT_RULES)
    assert b.label("acme", "u", "code", "", "") == Label("development", "productive")
    b.apply(defaults_key("acme"), {"enabled": False})
    assert b.label("acme", "u", "code", "", "") == UNCATEGORIZED
    assert b.label("globex", "u", "code", "", "") == Label("development", "productive")
    b.apply(defaults_key("acme"), {"enabled": True})
    assert b.label("acme", "u", "code", "", "") == Label("development", "productive")


@pytest.mark.parametrize(("kind", "pattern", "category", "productivity", "message"), [
    ("title", "(unclosed", "x", "neutral", "not a valid regular expression: missing )"),
    ("title", r"(a)\1", "x", "neutral", "no backreferences or lookarounds"),
    ("title", r"Jira(?= board)", "x", "neutral", "no backreferences or lookarounds"),
    ("title", ".*", "x", "neutral", "matches an empty title"),
    ("title", "a|", "x", "neutral", "matches an empty title"),
    ("title", "x" * 201, "x", "neutral", "at most 200"),
    ("domain", "https://github.com/org", "x", "neutral", "give the site's domain"),
    ("domain", "github.com:443", "x", "neutral", "give the site's domain"),
    ("domain", "git hub.com", "x", "neutral", "give the site's domain"),
    ("domain", "", "x", "neutral", "give the site's domain"),
    ("domain", "foo.*.com", "x", "neutral", "give the site's domain"),
    ("app", "  ", "x", "neutral", "an application name"),
    ("app", "code", "Development Tools", "neutral", "category 'Development Tools'"),
    ("app", "code", "dev", "good", "use one of productive, neutral, unproductive"),
    ("glob", "code", "dev", "neutral", "an app, a domain or a title"),
])
def test_bad_rules_are_refused_with_a_clear_message(kind, pattern, category, productivity,
                                                    message):
    with pytest.raises(PolicyError, match=re.escape(message)):
        Rule.build(kind, pattern, category, productivity, tenant="acme")


def test_patterns_are_normalized():
    assert rule("domain", "*.GitHub.com.", "d").pattern == "github.com"
    assert rule("domain", "www.youtube.com", "d").pattern == "youtube.com"
    assert rule("app", " Code ", "d").pattern == "code"
    r = rule("title", "Jira", "d", team="red", at=5)
    assert Rule.from_record(orjson.loads(orjson.dumps(r.to_record()))) == r
    assert r.key == rule_key("acme", "red", "title", "Jira")


def test_the_shipped_defaults_are_valid_and_label_the_usual_suspects():
    m = RuleBook(DEFAULT_RULES).matcher("any")
    assert len(DEFAULT_RULES) >= 100
    assert len({r.key for r in DEFAULT_RULES}) == len(DEFAULT_RULES), "no duplicate defaults"
    assert m.label("u", "code", "", "") == Label("development", "productive")
    assert m.label("u", "firefox", "github.com", "") == Label("development", "productive")
    assert m.label("u", "firefox", "www.youtube.com"[4:], "") == \
        Label("entertainment", "unproductive")
    assert m.label("u", "firefox", "", "Cats - YouTube — Mozilla Firefox") == \
        Label("entertainment", "unproductive")
    assert m.label("u", "slack", "", "") == Label("communication", "neutral")


# -- the compiled matcher against a brute-force reference ----------------------------------------

def reference(defaults, tenant_rules, teams, user, app, domain, title) -> Label:
    """Every applicable rule sorted by the documented precedence; the first match wins."""
    member = sorted(t for t, people in teams.items() if user in people)
    candidates = []
    for r in [*tenant_rules, *defaults]:
        if r.team and r.team not in member:
            continue
        scope = (member.index(r.team) if r.team else len(member) + (0 if r.tenant else 1))
        if r.kind == "domain":
            hit = domain == r.pattern or domain.endswith("." + r.pattern)
            specificity = -len(r.pattern)
        elif r.kind == "title":
            hit = bool(title) and re.search(r.pattern, title, re.IGNORECASE) is not None
            specificity = 0
        else:
            hit = app.lower() == r.pattern
            specificity = 0
        if hit:
            candidates.append((KINDS.index(r.kind), scope, specificity, r.created_ms, r))
    if not candidates:
        return UNCATEGORIZED
    return min(candidates, key=lambda c: c[:4])[4].label


_domains = st.sampled_from(["a.com", "b.a.com", "c.b.a.com", "com", "b.com", "x.org"])
_apps = st.sampled_from(["code", "slack", "zoom"])
_titles = st.sampled_from(["alpha", "beta", "gamma"])


@st.composite
def rule_sets(draw):
    rules, seen = [], set()
    for at in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(KINDS))
        pattern = draw({"domain": _domains, "app": _apps, "title": _titles}[kind])
        tenant = draw(st.sampled_from(["acme", ""]))
        team = draw(st.sampled_from(["", "red", "blue"])) if tenant else ""
        if (tenant, team, kind, pattern) in seen:
            continue
        seen.add((tenant, team, kind, pattern))
        rules.append(rule(kind, pattern, f"c{at}", tenant=tenant, team=team, at=at))
    return rules


@settings(max_examples=300, deadline=None)
@given(rules=rule_sets(), user=st.sampled_from(["ann", "ben", "cat"]),
       app=_apps, domain=st.one_of(st.just(""), _domains),
       title=st.sampled_from(["", "alpha beta", "gamma", "delta"]))
def test_the_compiled_matcher_agrees_with_the_reference(rules, user, app, domain, title):
    defaults = [r for r in rules if not r.tenant]
    tenant_rules = [r for r in rules if r.tenant]
    teams = {"red": frozenset({"ann", "ben"}), "blue": frozenset({"ben"})}
    matcher = TenantMatcher(defaults, tenant_rules, teams)
    assert matcher.label(user, app, domain, title) == \
        reference(defaults, tenant_rules, teams, user, app, domain, title)


def test_the_worker_core_labels_spans_and_rollups():
    policies = PolicySet()
    r = rule("domain", "github.com", "development", "productive")
    policies.categories.apply(r.key, r.to_record())
    now = int(time.time() * 1000)
    raw = orjson.dumps({"schema": "deskpulse.activity.v1", "event_id": "e1", "tenant": "acme",
                        "host": "h", "user": "u", "app": "firefox",
                        "url": "https://api.github.com/x", "start_ms": now - 60_000,
                        "end_ms": now - 1000})
    out = process(raw, key=b"acme/u", now_ms=now, seen=PartitionedSeenIndex(), partition=0,
                  offset=0,
                  policies=policies)
    assert type(out) is Accepted
    assert {(s["category"], s["productivity"]) for s in out.spans} == \
        {("development", "productive")}
    assert (out.rollup["category"], out.rollup["productivity"]) == ("development", "productive")


def test_rules_applied_while_another_thread_labels_are_all_in_force_afterwards():
    """The follower thread applies records while the ingest thread labels events."""
    import threading

    b = RuleBook(DEFAULT_RULES)
    stop = threading.Event()

    def label_all_the_time():
        while not stop.is_set():
            b.label("acme", "u", "app-7", "", "")

    worker = threading.Thread(target=label_all_the_time)
    worker.start()
    try:
        for i in range(300):
            r = rule("app", f"app-{i}", f"c{i}")
            b.apply(r.key, r.to_record())
    finally:
        stop.set()
        worker.join(10)
    assert b.label("acme", "u", "app-299", "", "") == Label("c299", "neutral")
    assert b.label("acme", "u", "app-7", "", "") == Label("c7", "neutral")
