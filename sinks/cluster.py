"""The migrations rendered for a ClickHouse cluster (``deskpulse db render --cluster``). Pure.

The same SQL files serve chDB and a single server. For a cluster each storage
table becomes a replicated local table on every shard plus a ``Distributed``
table under the original name, so the sink, the views and the analysts keep
using the names they know:

* ``deskpulse.X_local``: ``Replicated*MergeTree`` with the usual ``{shard}`` and
  ``{replica}`` macros;
* ``deskpulse.X``: ``Distributed`` over ``X_local``, sharded by
  ``cityHash64(tenant, user)``. All rows of one person live on one shard, so the
  views' ``FINAL`` (which collapses replays per shard) stays exact and erasure
  touches one shard;
* small tables every node needs whole (team membership, for the row policies,
  and the migrations ledger) are replicated to every node instead of sharded;
* the sink's input tables (``ENGINE = Null``) exist on every node, and their
  materialized views write to the ``Distributed`` tables;
* views, ``ALTER``\\s and the database get ``ON CLUSTER``; a column added to a sharded
  table is added to its local tables and to its ``Distributed`` table;
* a table rebuilt by a migration (``CREATE OR REPLACE TABLE X (...) AS SELECT ... FROM X``,
  to change its sorting key, codecs or columns) becomes: a new replicated local table
  ``X_vN_local`` (its own Keeper path) with a ``Distributed`` table over it, the rows
  copied (converted by the same select list) through the ``Distributed`` tables (once,
  from the node the script runs on), ``EXCHANGE TABLES`` of the two local tables on every
  node (the ``Distributed`` table ``X`` then reads the new one; when the columns change,
  ``X`` is created again over them), and the old one dropped;
* ``INSERT ... SELECT`` runs once, through the ``Distributed`` tables; ``DROP TABLE`` drops
  the ``Distributed`` table and its local tables.

The sink must then insert with ``insert_distributed_sync = 1`` so that its
deduplication token reaches the shard (see ``docs/clickhouse.md``).
"""

from __future__ import annotations

import re

from sinks.migrate import LEDGER_DDL, Migration

#: tables copied whole to every node rather than sharded
EVERYWHERE = frozenset({"team_members_store", "schema_migrations"})
SHARDING_KEY = "cityHash64(tenant, user)"
_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS deskpulse\.(\w+)\s*\(", re.S)
_ENGINE = re.compile(r"ENGINE = (ReplacingMergeTree|SummingMergeTree|MergeTree)(?:\(([^)]*\)?)\))?")
_LOCAL_ONLY_SETTING = re.compile(r"\nSETTINGS non_replicated_deduplication_window = \d+")
_REBUILD = re.compile(r"^CREATE OR REPLACE TABLE deskpulse\.(\w+)\s*\((.*)\nAS SELECT (.+?) FROM "
                      r"deskpulse\.(\w+)$", re.S)


def _on(cluster: str) -> str:
    return f"ON CLUSTER '{cluster}'"


def _has_person(statement: str) -> bool:
    return bool(re.search(r"^\s*tenant\b", statement, re.M)) and \
        bool(re.search(r"^\s*user\b", statement, re.M))


def render_statement(statement: str, cluster: str,
                     unsharded: frozenset[str] = frozenset(), version: int = 0) -> list[str]:
    """One migration statement as the statements a cluster needs.

    ``unsharded``: tables created by earlier statements that keep their name on every node
    (the sink's ``Null`` input tables); ``version``: the migration's (names a rebuilt table).
    """
    on = _on(cluster)
    if statement.startswith("CREATE DATABASE"):
        return [f"{statement} {on}"]
    rebuild = _REBUILD.match(statement)
    if rebuild:
        return _render_rebuild(rebuild, cluster, version)
    if statement.startswith("INSERT INTO deskpulse."):  # once, through the Distributed tables
        return [_distributed_sync(statement)]
    drop_table = re.fullmatch(r"DROP TABLE IF EXISTS deskpulse\.(\w+)", statement)
    if drop_table:
        name = drop_table.group(1)
        if name in EVERYWHERE or name in unsharded:
            return [f"{statement} {on} SYNC"]
        return [f"{statement} {on}", f"DROP TABLE IF EXISTS deskpulse.{name}_local {on} SYNC"]
    table = _CREATE_TABLE.match(statement)
    if table:
        return _render_table(statement, table.group(1), cluster)
    view = re.match(r"^(CREATE (?:MATERIALIZED VIEW IF NOT EXISTS|VIEW IF NOT EXISTS|OR REPLACE "
                    r"VIEW) deskpulse\.\w+) ", statement)
    if view:  # a materialized view writes to the Distributed table: rows go to their shard
        return [f"{view.group(1)} {on} {statement[view.end():]}"]
    drop = re.fullmatch(r"DROP VIEW IF EXISTS deskpulse\.\w+", statement)
    if drop:
        return [f"{statement} {on}"]
    alter = re.match(r"^ALTER TABLE deskpulse\.(\w+)\s+", statement)
    if alter:
        name, rest = alter.group(1), statement[alter.end():]
        if name in EVERYWHERE or name in unsharded:
            return [f"ALTER TABLE deskpulse.{name} {on} {rest}"]
        out = [f"ALTER TABLE deskpulse.{name}_local {on} {rest}"]
        if rest.lstrip().startswith("ADD COLUMN"):  # the Distributed table shows it too
            out.append(f"ALTER TABLE deskpulse.{name} {on} {rest}")
        return out
    raise ValueError(f"no cluster rendering for: {statement[:80]}")


def _distributed_sync(insert: str) -> str:
    """An INSERT that has reached every shard when it returns (the next statement may rename
    the tables an asynchronous Distributed insert would still be sending to)."""
    if re.search(r"\bSETTINGS\b[^)]*$", insert):
        return f"{insert}, insert_distributed_sync = 1"
    return f"{insert} SETTINGS insert_distributed_sync = 1"


def _render_rebuild(match: re.Match[str], cluster: str, version: int) -> list[str]:
    name, body, select, source = match.groups()
    if source != name or name in EVERYWHERE:
        raise ValueError(f"no cluster rendering for a rebuild of {name} from {source}")
    on = _on(cluster)
    new = f"{name}_v{version}"
    created = _render_table(f"CREATE TABLE IF NOT EXISTS deskpulse.{new}\n({body}", new,
                            cluster)
    out = [*created,
           _distributed_sync(f"INSERT INTO deskpulse.{new} SELECT {select} FROM "
                             f"deskpulse.{name} SETTINGS insert_deduplicate = 0"),
           f"EXCHANGE TABLES deskpulse.{name}_local AND deskpulse.{new}_local {on}"]
    if select.strip() != "*":  # other columns: the Distributed table takes the new ones
        out.append(f"CREATE OR REPLACE TABLE deskpulse.{name} {on} AS deskpulse.{name}_local\n"
                   f"ENGINE = Distributed('{cluster}', 'deskpulse', '{name}_local', "
                   f"{SHARDING_KEY if _has_person(body) else 'rand()'})")
    return [*out,
            f"DROP TABLE IF EXISTS deskpulse.{new} {on}",
            f"DROP TABLE IF EXISTS deskpulse.{new}_local {on} SYNC"]


def _render_table(statement: str, name: str, cluster: str) -> list[str]:
    on = _on(cluster)
    if "ENGINE = Null" in statement:  # the sink's input tables: on every node, store nothing
        return [f"CREATE TABLE IF NOT EXISTS deskpulse.{name} {on}\n"
                f"({statement[_CREATE_TABLE.match(statement).end():]}"]  # type: ignore[union-attr]
    everywhere = name in EVERYWHERE
    local = name if everywhere else f"{name}_local"
    path = (f"/clickhouse/tables/all/deskpulse/{local}" if everywhere
            else f"/clickhouse/tables/{{shard}}/deskpulse/{local}")
    replica = "{shard}-{replica}" if everywhere else "{replica}"

    def engine(m: re.Match[str]) -> str:
        args = f"'{path}', '{replica}'" + (f", {m.group(2)}" if m.group(2) else "")
        return f"ENGINE = Replicated{m.group(1)}({args})"

    body = _ENGINE.sub(engine, statement[_CREATE_TABLE.match(statement).end():], count=1)  # type: ignore[union-attr]
    body = _LOCAL_ONLY_SETTING.sub("", body)
    out = [f"CREATE TABLE IF NOT EXISTS deskpulse.{local} {on}\n({body}"]
    if not everywhere:
        key = SHARDING_KEY if _has_person(statement) else "rand()"
        out.append(f"CREATE TABLE IF NOT EXISTS deskpulse.{name} {on} AS deskpulse.{local}\n"
                   f"ENGINE = Distributed('{cluster}', 'deskpulse', '{local}', {key})")
    return out


def render(migrations: list[Migration], cluster: str = "{cluster}") -> str:
    """Every migration, and the ledger, as one SQL script for ``cluster``."""
    if not re.fullmatch(r"[A-Za-z0-9_{}.-]+", cluster):
        raise ValueError(f"cluster name {cluster!r} has characters ClickHouse does not allow")
    parts = [f"-- deskpulse schema for ClickHouse cluster {cluster!r}, rendered by "
             "`deskpulse db render`.\n-- Apply once on any node; each statement runs "
             "ON CLUSTER.\n"]
    parts.append("\n\n".join(s + ";" for s in render_statement(
        "CREATE DATABASE IF NOT EXISTS deskpulse", cluster)))
    parts.append("\n\n".join(s + ";" for s in _render_table(LEDGER_DDL.replace(
        "(version", "\n(version", 1), "schema_migrations", cluster)))
    unsharded: set[str] = set()
    for migration in migrations:
        parts.append(f"-- {migration.version:04d}_{migration.name}")
        for statement in migration.statements():
            if statement.startswith("CREATE DATABASE"):
                continue
            table = _CREATE_TABLE.match(statement)
            if table and "ENGINE = Null" in statement:
                unsharded.add(table.group(1))
            parts.extend(s + ";" for s in render_statement(statement, cluster,
                                                           frozenset(unsharded),
                                                           migration.version))
        parts.append(
            "INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES "
            f"({migration.version}, '{migration.name}', '{migration.checksum}');")
    return "\n\n".join(parts) + "\n"
