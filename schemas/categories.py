"""Productivity categories, pure: rules that label an activity, and how they are matched.

A rule labels activity with a *category* (``development``, ``social``, ...) and a
*productivity* class (``productive``, ``neutral``, ``unproductive``). It matches one of:

- ``app``: the application name, exactly, ignoring case (``code``, ``slack``);
- ``domain``: a site and its subdomains (``google.com`` matches ``docs.google.com``,
  not ``notgoogle.com``);
- ``title``: a regular expression searched in the window title, ignoring case
  (RE2 syntax: no backreferences or lookarounds, and matching time linear in the
  title's length whatever the pattern, so no rule can stall a worker).

Rules come from three scopes: a team's rules (people in that team), the tenant's
rules, and the defaults shipped with deskpulse (:mod:`schemas.category_defaults`),
which a tenant can switch off to start from a blank slate.
The most specific rule wins, decided in this order:

1. the kind: ``domain`` beats ``title`` beats ``app`` (a site says more about the
   work than the browser showing it; a title more than its application);
2. the scope: team beats tenant beats default (explicit beats default);
3. within a kind and scope: the longest matching domain; for titles, the rule set
   first (rules are ordered by when they were created);
4. nothing matches: ``uncategorized`` / ``neutral``.

Matching is cheap: every scope is compiled once per change into dicts (apps,
domains) and one RE2 set of the title patterns (one pass over a title finds every
pattern that matches it: 1.4 us for 100 patterns, against 14 us for Python's
``re`` with the patterns joined); results are cached per (team set, app, domain)
and per (team set, title).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import re2

from deskpulse.core.errors import PolicyError

KINDS = ("domain", "title", "app")  # precedence: first wins
PRODUCTIVITY = ("productive", "neutral", "unproductive")
DEFAULT_SCOPE = ""  # the tenant of the shipped rules
TENANT_WIDE = ""  # the team of a rule for the whole tenant

_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_TEAM = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_TITLE_PATTERN = 200
CACHE_SIZE = 100_000


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


def defaults_key(tenant: str) -> str:
    """The record saying whether the shipped defaults apply in ``tenant`` (they do unless
    it says ``{"enabled": false}``)."""
    return f"{tenant}/defaults"


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
        compiled = re2.compile(pattern, _re2_options())
    except re2.error as exc:
        why = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PolicyError(f"title pattern {pattern!r} is not a valid regular expression: "
                          f"{why} (RE2 syntax: no backreferences or lookarounds)") from exc
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


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a refused pattern is reported as a PolicyError, not logged
    return options


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
_NO_TITLE = Match(UNCATEGORIZED, None)  # cached: no title rule matches this title


class _Scope:
    """One scope's app and domain rules, compiled (title rules: :class:`_TitleSet`)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        ordered = sorted(rules, key=lambda r: (r.created_ms, r.kind, r.pattern))
        self.apps = {r.pattern: r for r in ordered if r.kind == "app"}
        self.domains = {r.pattern: r for r in ordered if r.kind == "domain"}
        self.titles = [r for r in ordered if r.kind == "title"]

    def domain(self, suffixes: list[str]) -> Rule | None:
        domains = self.domains
        if domains:
            for suffix in suffixes:
                rule = domains.get(suffix)
                if rule is not None:
                    return rule
        return None


class _TitleSet:
    """The title rules of several scopes as one RE2 set, numbered in precedence order.

    One pass over a title finds every pattern that matches; the lowest number is the
    winner (the first scope, then the rule set first).
    """

    def __init__(self, scopes: list[_Scope]) -> None:
        rules = [rule for scope in scopes for rule in scope.titles]
        self.matches = [Match(rule.label, rule) for rule in rules]
        compiled = re2.Set.SearchSet(_re2_options())
        for rule in rules:
            compiled.Add(rule.pattern)
        compiled.Compile()
        self.search = compiled.Match  # title -> indices of the matching patterns, or None


class TenantMatcher:
    """Every rule that applies in one tenant, compiled; :meth:`label` is the hot path.

    Results are cached per (team set, app, domain) and per (team set, title) in plain
    dicts emptied when full (``functools.lru_cache`` cost more than it saved here).
    The title cache matters beyond the ~1.4 us an RE2 set takes for 100 patterns: RE2
    releases the GIL for every search, and in the worker (Faust's loop and the policy
    follower are other threads) each release measured as several microseconds of
    waiting to get it back.
    """

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
        self._base: dict[tuple[tuple[str, ...], str, str], Match] = {}
        self._titles: dict[tuple[str, ...], _TitleSet] = {}
        self._title_cache: dict[tuple[tuple[str, ...], str], Match] = {}

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

    def _title_set(self, teams: tuple[str, ...]) -> _TitleSet:
        found = self._titles.get(teams)
        if found is None:
            found = self._titles[teams] = _TitleSet(self._scopes(teams))
        return found

    def match(self, user: str, app: str, domain: str, title: str) -> Match:
        """The winning rule for this activity (and its label)."""
        teams = self._member_of.get(user, ()) if self._member_of else ()
        key = (teams, app, domain)
        base = self._base.get(key)
        if base is None:
            if len(self._base) >= CACHE_SIZE:
                self._base.clear()
            base = self._base[key] = self._match_base(teams, app, domain)
        if not self._has_titles or not title or base.rule is not None and \
                base.rule.kind == "domain":
            return base
        key = (teams, title)
        known = self._title_cache.get(key)
        if known is None:
            if len(self._title_cache) >= CACHE_SIZE:
                self._title_cache.clear()
            titles = self._title_set(teams)
            found = titles.search(title)
            known = self._title_cache[key] = titles.matches[min(found)] if found else _NO_TITLE
        return base if known is _NO_TITLE else known

    def label(self, user: str, app: str, domain: str, title: str) -> Label:
        return self.match(user, app, domain, title).label


@dataclass
class RuleBook:
    """Every tenant's rules and team memberships, updated record by record from the topic."""

    defaults: tuple[Rule, ...] = ()
    rules: dict[str, Rule] = field(default_factory=dict)
    #: key ``tenant/team/NAME`` -> members
    teams: dict[str, frozenset[str]] = field(default_factory=dict)
    #: tenants that switched the shipped defaults off
    without_defaults: set[str] = field(default_factory=set)
    _matchers: dict[str, TenantMatcher] = field(default_factory=dict, repr=False)
    #: the policy follower's thread applies records while the ingest thread matches: a
    #: matcher is built and a record applied under this lock, so that no matcher built
    #: from the old rules is kept after a change (matching itself takes no lock)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def apply(self, key: str, record: dict | None) -> None:
        """One record of the category topic (``None``: a tombstone)."""
        with self._lock:
            self._apply(key, record)

    def _apply(self, key: str, record: dict | None) -> None:
        tenant, _, rest = key.partition("/")
        if rest == "defaults":
            if record is None or record["enabled"]:
                self.without_defaults.discard(tenant)
            else:
                self.without_defaults.add(tenant)
        elif rest.startswith("team/"):
            if record is None:
                self.teams.pop(key, None)
            else:
                self.teams[key] = frozenset(str(m) for m in record["members"])
        elif record is None:
            self.rules.pop(key, None)
        else:
            self.rules[key] = Rule.from_record(record)
        self._matchers.pop(tenant, None)

    def defaults_for(self, tenant: str) -> tuple[Rule, ...]:
        return () if tenant in self.without_defaults else self.defaults

    def tenant_rules(self, tenant: str) -> list[Rule]:
        return sorted((r for r in self.rules.values() if r.tenant == tenant),
                      key=lambda r: (r.team, KINDS.index(r.kind), r.created_ms, r.pattern))

    def tenant_teams(self, tenant: str) -> dict[str, frozenset[str]]:
        prefix = f"{tenant}/team/"
        return {k[len(prefix):]: v for k, v in self.teams.items() if k.startswith(prefix)}

    def matcher(self, tenant: str) -> TenantMatcher:
        found = self._matchers.get(tenant)
        if found is None:
            with self._lock:
                found = self._matchers[tenant] = TenantMatcher(
                    self.defaults_for(tenant), self.tenant_rules(tenant),
                    self.tenant_teams(tenant))
        return found

    def label(self, tenant: str, user: str, app: str, domain: str, title: str) -> Label:
        """The hot path: one call per event in the stream worker."""
        matcher = self._matchers.get(tenant) or self.matcher(tenant)
        return matcher.match(user, app, domain, title).label
