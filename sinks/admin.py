"""Named administrative operations on the store: erasure, migrations, retention, relabelling, teams.

These are the only writes anyone but the sink makes. On the embedded stack the store
owner (the sink) runs them in its own process, on its own ClickHouse handle, when a
request to ``POST /admin/<operation>`` carries the admin credential; against a
configured ClickHouse server the CLI runs the same functions itself with the server's
credentials. Either way the client names an operation and its parameters; it never
sends SQL. Parameters are checked here, before anything runs.

Operations (parameters -> result):

- ``forget`` {tenant, user} -> {removed: {table: rows}} (:func:`sinks.erase.forget`)
- ``export`` {tenant, user} -> {request_id, tables: {table: {columns, rows}}}
  (:func:`sinks.export.export_rows`, audited)
- ``migrate`` {} -> {applied: [name, ...], total: n}
- ``retention`` {set: {name: days}} -> {retention: {name: days or null}}
- ``recategorize`` {tenant, since: "YYYY-MM-DD"} -> {activities, rows, progress}
- ``team`` {tenant, team, user, role: member|manager, remove: bool} -> {team, user, role}
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deskpulse.core.errors import ConfigError
from deskpulse.core.sql import SqlStore, literal

logger = logging.getLogger(__name__)

OPERATIONS = ("forget", "export", "migrate", "retention", "recategorize", "team")
_TENANT = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass
class AdminContext:
    """What an operation may use: the store, and how to read the policies (relabelling)."""

    store: SqlStore
    #: returns the current policies (a :class:`schemas.policy.PolicySet`)
    policies: Callable[[], Any] | None = None
    progress: Callable[[str], None] = field(default=lambda _: None)


def run(op: str, params: Mapping[str, Any], ctx: AdminContext) -> dict[str, Any]:
    """Run operation ``op``; ConfigError for an unknown operation or bad parameters."""
    if op not in OPERATIONS:
        raise ConfigError(f"unknown admin operation {op!r} (known: {', '.join(OPERATIONS)})")
    if not isinstance(params, Mapping):
        raise ConfigError("admin parameters must be a JSON object")
    return _OPS[op](params, ctx)


def _only(params: Mapping[str, Any], *allowed: str) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(map(repr, unknown))} "
                          f"(expected: {', '.join(allowed) or 'none'})")


def _text(params: Mapping[str, Any], name: str, limit: int = 255) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise ConfigError(f"{name} must be a string of 1 to {limit} characters")
    return value


def _tenant(params: Mapping[str, Any]) -> str:
    tenant = _text(params, "tenant", 64)
    if not _TENANT.fullmatch(tenant):
        raise ConfigError(f"tenant {tenant!r} is not 1-64 characters of A-Za-z0-9._-")
    return tenant


def _forget(params: Mapping[str, Any], ctx: AdminContext) -> dict[str, Any]:
    from sinks.erase import forget
    _only(params, "tenant", "user")
    tenant, user = _tenant(params), _text(params, "user")
    return {"removed": forget(ctx.store, tenant, user)}


def _export(params: Mapping[str, Any], ctx: AdminContext) -> dict[str, Any]:
    from sinks.export import export_rows
    _only(params, "tenant", "user")
    return export_rows(ctx.store, _tenant(params), _text(params, "user"))


def _migrate(params: Mapping[str, Any], ctx: AdminContext) -> dict[str, Any]:
    from sinks import migrate
    _only(params)
    applied = migrate.apply(ctx.store)
    return {"applied": [f"{m.version:04d}_{m.name}" for m in applied],
            "total": len(migrate.load_migrations())}


def _retention(params: Mapping[str, Any], ctx: AdminContext) -> dict[str, Any]:
    from sinks import retention
    _only(params, "set")
    wanted = params.get("set", {})
    if not isinstance(wanted, Mapping):
        raise ConfigError("set must be an object {name: days}")
    changes = []
    for name, days in wanted.items():
        if isinstance(days, bool) or not isinstance(days, int):
            raise ConfigError(f"retention {name!r}: days must be an integer")
        changes.append(retention.parse_assignment(f"{name}={days}"))  # all checked first
    for name, days in changes:
        ctx.store.command(retention.statement(name, days))
    return {"retention": retention.current(ctx.store)}


def _recategorize(params: Mapping[str, Any], ctx: AdminContext) -> dict[str, Any]:
    from sinks.recategorize import recategorize
    _only(params, "tenant", "since")
    tenant = _tenant(params)
    try:
        since = dt.date.fromisoformat(_text(params, "since", 10))
    except ValueError as exc:
        raise ConfigError(f"since {params.get('since')!r} is not a date like 2026-11-01") \
            from exc
    if since > dt.datetime.now(dt.UTC).date():
        raise ConfigError(f"since {since} is in the future")
    if ctx.policies is None:
        raise ConfigError("relabelling needs the policy topics, and this store owner has no "
                          "broker to read them from")
    matcher = ctx.policies().categories.matcher(tenant)
    steps: list[str] = []

    def progress(message: str) -> None:
        steps.append(message)
        ctx.progress(message)
    done = recategorize(ctx.store, matcher, tenant, since, progress=progress)
    return {"activities": done.activities, "rows": done.rows, "progress": steps}


def _team(params: Mapping[str, Any], ctx: AdminContext) -> dict[str, Any]:
    _only(params, "tenant", "team", "user", "role", "remove")
    tenant, team, user = _tenant(params), _text(params, "team"), _text(params, "user")
    role = params.get("role", "member")
    if role not in ("member", "manager"):
        raise ConfigError(f"role {role!r} is not member or manager")
    remove = params.get("remove", False)
    if not isinstance(remove, bool):
        raise ConfigError("remove must be true or false")
    ctx.store.command("INSERT INTO deskpulse.team_members_store (tenant, team, user, role, "
                      f"is_deleted) VALUES ({literal(tenant)}, {literal(team)}, "
                      f"{literal(user)}, {literal(role)}, {int(remove)})")
    logger.info("team %s in tenant %s: membership %s", team, tenant,
                "removed" if remove else "set")
    return {"team": team, "user": user, "role": role, "removed": remove}


_OPS: dict[str, Callable[[Mapping[str, Any], AdminContext], dict[str, Any]]] = {
    "forget": _forget, "export": _export, "migrate": _migrate, "retention": _retention,
    "recategorize": _recategorize, "team": _team,
}
