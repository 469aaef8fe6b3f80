"""Productivity categories, pure: rules that label an activity, and how they are matched.

A rule labels activity with a *category* (``development``, ``social``, ...) and a
*productivity* class (``productive``, ``neutral``, ``unproductive``). It matches one of:

- ``app``: the application name, exactly, ignoring case (``code``, ``slack``);
- ``domain``: a site and its subdomains (``google.com`` matches ``docs.google.com``,
  not ``notgoogle.com``);
- ``title``: a regular expression searched in the window title, ignoring case.

Rules come from three scopes: a team's rules (people in that team), the tenant's
rules, and the defaults shipped with deskpulse (:mod:`streams.category_defaults`).
The most specific rule wins, decided in this order:

1. the kind: ``domain`` beats ``title`` beats ``app`` (a site says more about the
   work than the browser showing it; a title more than its application);
2. the scope: team beats tenant beats default (explicit beats default);
3. within a kind and scope: the longest matching domain; for titles, the rule set
   first (rules are ordered by when they were created);
4. nothing matches: ``uncategorized`` / ``neutral``.

Matching is cheap: every scope is compiled once per change into dicts (apps,
domains) and one combined regular expression (titles, a fast "no title rule
matches" for most titles); results are cached per (team set, app, domain) and per
title.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from deskpulse.errors import PolicyError

KINDS = ("domain", "title", "app")  # precedence: first wins
PRODUCTIVITY = ("productive", "neutral", "unproductive")
DEFAULT_SCOPE = ""  # the tenant of the shipped rules
TENANT_WIDE = ""  # the team of a rule for the whole tenant

_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_TEAM = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_TITLE_PATTERN = 200
CACHE_SIZE = 65_536


@dataclass(frozen=True, slots=True)
class Label:
    category: str
    productivity: str


UNCATEGORIZED = Label("uncategorized", "neutral")


@dataclass(frozen=True)
class Rule:
    """One labelling rule; ``tenant`` is empty for the shipped defaults."""

    kind: str
    pattern: str
    category: str
    productivity: str
    tenant: str = DEFAULT_SCOPE
    team: str = TENANT_WIDE
    created_ms: int = 0

    @classmethod
    def build(cls, kind: str, pattern: str, category: str, productivity: str, *,
              tenant: str = DEFAULT_SCOPE, team: str = TENANT_WIDE,
              created_ms: int = 0) -> Rule:
        """A checked rule, its pattern normalized; bad input raises :class:`PolicyError`."""
        if kind not in KINDS:
            raise PolicyError(f"a rule matches an app, a domain or a title, not {kind!r}")
        if not _CATEGORY.match(category):
            raise PolicyError(f"category {category!r}: use a short lower-case name like "
                              "'development' (letters, digits, '-', '_'; at most 32)")
        if productivity not in PRODUCTIVITY:
            raise PolicyError(f"productivity {productivity!r}: use one of "
                              f"{', '.join(PRODUCTIVITY)}")
        if team and not _TEAM.match(team):
            raise PolicyError(f"team {team!r}: letters, digits, '.', '_', '-' (at most 64)")
        pattern = normalize_pattern(kind, pattern)
        return cls(kind, pattern, category, productivity, tenant, team, created_ms)

    @property
    def key(self) -> str:
        """The policy-topic key: one rule per (tenant, team, kind, pattern)."""
        return rule_key(self.tenant, self.team, self.kind, self.pattern)

    @property
    def label(self) -> Label:
        return Label(self.category, self.productivity)

    def describe(self) -> str:
        scope = "default" if not self.tenant else (f"team {self.team}" if self.team
                                                   else f"tenant {self.tenant}")
        return (f"{self.kind} {self.pattern!r} -> {self.category}/{self.productivity} "
                f"({scope})")

    def to_record(self) -> dict:
        return {"kind": self.kind, "pattern": self.pattern, "category": self.category,
                "productivity": self.productivity, "tenant": self.tenant, "team": self.team,
                "created_ms": self.created_ms}

    @classmethod
    def from_record(cls, d: dict) -> Rule:
        return cls.build(d["kind"], d["pattern"], d["category"], d["productivity"],
                         tenant=d["tenant"], team=d.get("team", ""),
                         created_ms=int(d.get("created_ms", 0)))


def rule_key(tenant: str, team: str, kind: str, pattern: str) -> str:
    return f"{tenant}/rule/{team}/{kind}/{pattern}"


def team_key(tenant: str, team: str) -> str:
    return f"{tenant}/team/{team}"


def normalize_pattern(kind: str, pattern: str) -> str:
    """The canonical form of a rule's pattern; refuses what could not match as meant."""
    if kind == "app":
        app = pattern.strip().lower()
        if not app or len(app) > 255 or any(ord(c) < 32 for c in app):
            raise PolicyError(f"app {pattern!r}: an application name like 'code' or 'slack'")
        return app
    if kind == "domain":
        return normalize_domain(pattern)
    if len(pattern) > MAX_TITLE_PATTERN:
        raise PolicyError(f"title pattern is {len(pattern)} characters long; at most "
                          f"{MAX_TITLE_PATTERN}")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise PolicyError(f"title pattern {pattern!r} is not a valid regular expression: "
                          f"{exc}") from exc
    if compiled.search(""):
        raise PolicyError(f"title pattern {pattern!r} matches an empty title, so it would "
                          "label every window; make it match something")
    return pattern


def normalize_domain(pattern: str) -> str:
    """``GitHub.com`` -> ``github.com``; ``*.google.com`` -> ``google.com``; URLs refused."""
    domain = pattern.strip().lower().rstrip(".")
    if domain.startswith("*."):
        domain = domain[2:]
    if domain.startswith("www."):
        domain = domain[4:]  # the pipeline strips it from every URL's host too
    hint = "give the site's domain, like 'github.com' (it covers its subdomains)"
    if "://" in domain or "/" in domain or ":" in domain or "*" in domain:
        raise PolicyError(f"domain {pattern!r}: {hint}")
    labels = domain.split(".")
    if not domain or len(domain) > 253 or not all(_DOMAIN_LABEL.match(x) for x in labels):
        raise PolicyError(f"domain {pattern!r}: {hint}")
    return domain


def domain_suffixes(domain: str) -> list[str]:
    """``a.b.com`` -> ``["a.b.com", "b.com", "com"]`` (longest first)."""
    out = [domain]
    at = domain.find(".")
    while at >= 0:
        domain = domain[at + 1:]
        out.append(domain)
        at = domain.find(".")
    return out


# -- compiled matching -------------------------------------------------------------------------

@dataclass(frozen=True)
class Match:
    """A label and the rule that gave it (``None``: nothing matched)."""

    label: Label
    rule: Rule | None


_NO_MATCH = Match(UNCATEGORIZED, None)


class _Scope:
    """One scope's rules, compiled."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        ordered = sorted(rules, key=lambda r: (r.created_ms, r.kind, r.pattern))
        self.apps = {r.pattern: r for r in ordered if r.kind == "app"}
        self.domains = {r.pattern: r for r in ordered if r.kind == "domain"}
        self.titles = [(re.compile(r.pattern, re.IGNORECASE), r) for r in ordered
                       if r.kind == "title"]
        # one pass over a title tells whether any of this scope's title rules could match
        self.any_title = re.compile("|".join(f"(?:{r.pattern})" for _, r in self.titles),
                                    re.IGNORECASE) if self.titles else None

    def domain(self, suffixes: list[str]) -> Rule | None:
        domains = self.domains
        if domains:
            for suffix in suffixes:
                rule = domains.get(suffix)
                if rule is not None:
                    return rule
        return None

    def title(self, title: str) -> Rule | None:
        if self.any_title is None or self.any_title.search(title) is None:
            return None
        for regex, rule in self.titles:
            if regex.search(title):
                return rule
        return None  # pragma: no cover - the combined pattern matched, so one of them does


class TenantMatcher:
    """Every rule that applies in one tenant, compiled; :meth:`label` is the hot path."""

    def __init__(self, defaults: Iterable[Rule], tenant_rules: Iterable[Rule],
                 teams: dict[str, frozenset[str]] | None = None) -> None:
        by_team: dict[str, list[Rule]] = {}
        tenant_wide: list[Rule] = []
        for rule in tenant_rules:
            (by_team.setdefault(rule.team, []) if rule.team else tenant_wide).append(rule)
        self._team_scopes = {team: _Scope(rules) for team, rules in by_team.items()}
        self._tenant = _Scope(tenant_wide)
        self._default = _Scope(defaults)
        # people -> the teams (with rules) they are in, in name order
        member_of: dict[str, list[str]] = {}
        for team in sorted(self._team_scopes):
            for user in (teams or {}).get(team, ()):
                member_of.setdefault(user, []).append(team)
        self._member_of = {u: tuple(t) for u, t in member_of.items()}
        self._has_titles = any(s.titles for s in self._all_scopes())
        self._base = functools.lru_cache(maxsize=CACHE_SIZE)(self._match_base)
        self._title = functools.lru_cache(maxsize=CACHE_SIZE)(self._match_title)

    def _all_scopes(self) -> list[_Scope]:
        return [*self._team_scopes.values(), self._tenant, self._default]

    def _scopes(self, teams: tuple[str, ...]) -> list[_Scope]:
        return [*(self._team_scopes[t] for t in teams), self._tenant, self._default]

    def _match_base(self, teams: tuple[str, ...], app: str, domain: str) -> Match:
        scopes = self._scopes(teams)
        if domain:
            suffixes = domain_suffixes(domain)
            for scope in scopes:
                rule = scope.domain(suffixes)
                if rule is not None:
                    return Match(rule.label, rule)
        lowered = app.lower()
        for scope in scopes:
            rule = scope.apps.get(lowered)
            if rule is not None:
                return Match(rule.label, rule)
        return _NO_MATCH

    def _match_title(self, teams: tuple[str, ...], title: str) -> Match | None:
        for scope in self._scopes(teams):
            rule = scope.title(title)
            if rule is not None:
                return Match(rule.label, rule)
        return None

    def match(self, user: str, app: str, domain: str, title: str) -> Match:
        """The winning rule for this activity (and its label)."""
        teams = self._member_of.get(user, ()) if self._member_of else ()
        base = self._base(teams, app, domain)
        if not self._has_titles or not title or (base.rule is not None and
                                                 base.rule.kind == "domain"):
            return base
        return self._title(teams, title) or base

    def label(self, user: str, app: str, domain: str, title: str) -> Label:
        return self.match(user, app, domain, title).label


@dataclass
class RuleBook:
    """Every tenant's rules and team memberships, updated record by record from the topic."""

    defaults: tuple[Rule, ...] = ()
    rules: dict[str, Rule] = field(default_factory=dict)
    #: key ``tenant/team/NAME`` -> members
    teams: dict[str, frozenset[str]] = field(default_factory=dict)
    _matchers: dict[str, TenantMatcher] = field(default_factory=dict, repr=False)

    def apply(self, key: str, record: dict | None) -> None:
        """One record of the category topic (``None``: a tombstone)."""
        if key.split("/", 2)[1:2] == ["team"]:
            if record is None:
                self.teams.pop(key, None)
            else:
                self.teams[key] = frozenset(str(m) for m in record["members"])
        elif record is None:
            self.rules.pop(key, None)
        else:
            self.rules[key] = Rule.from_record(record)
        self._matchers.pop(key.split("/", 1)[0], None)

    def tenant_rules(self, tenant: str) -> list[Rule]:
        return sorted((r for r in self.rules.values() if r.tenant == tenant),
                      key=lambda r: (r.team, KINDS.index(r.kind), r.created_ms, r.pattern))

    def tenant_teams(self, tenant: str) -> dict[str, frozenset[str]]:
        prefix = f"{tenant}/team/"
        return {k[len(prefix):]: v for k, v in self.teams.items() if k.startswith(prefix)}

    def matcher(self, tenant: str) -> TenantMatcher:
        found = self._matchers.get(tenant)
        if found is None:
            found = self._matchers[tenant] = TenantMatcher(
                self.defaults, self.tenant_rules(tenant), self.tenant_teams(tenant))
        return found

    def label(self, tenant: str, user: str, app: str, domain: str, title: str) -> Label:
        return self.matcher(tenant).label(user, app, domain, title)
