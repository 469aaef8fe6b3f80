"""Roles and row policies for a ClickHouse server (``deskpulse db access``). Pure.

Four roles:

* ``deskpulse_analyst``: reads everything, maintains team membership;
* ``deskpulse_manager``: reads the rows of the people in the teams they manage
  (``team_members`` rows with ``role = 'manager'`` and their ClickHouse login as
  ``user``);
* ``deskpulse_employee``: reads only their own rows (login = ``user``);
* ``deskpulse_sink``: writes, migrates and erases.

A row policy on a table hides every row from users no policy covers, so each
role gets one policy per personal table. The predicates are defined once here:
the rendered SQL uses them with ``currentUser()``, and the tests apply the same
text with a fixed login through ``additional_table_filters`` on chDB, which does
not implement access management (``CREATE ROLE`` / ``ROW POLICY`` are refused).
"""

from __future__ import annotations

#: the tables holding rows about a person (the views read these)
PERSONAL_TABLES = ("spans_store", "minutes_store", "hours_agg", "days_agg",
                   "deadletter_store")
VIEWS = ("activity_spans", "activity_minutes", "activity_hourly", "activity_daily",
         "deadletter", "people", "collectors")
ME = "currentUser()"


def employee_predicate(me: str = ME) -> str:
    return f"user = {me}"


def manager_predicate(me: str = ME) -> str:
    return ("(tenant, user) IN (SELECT tenant, user FROM deskpulse.team_members "
            "WHERE (tenant, team) IN (SELECT tenant, team FROM deskpulse.team_members "
            f"WHERE user = {me} AND role = 'manager'))")


POLICIES = {
    "deskpulse_analyst": lambda me: "1",
    "deskpulse_sink": lambda me: "1",
    "deskpulse_manager": manager_predicate,
    "deskpulse_employee": employee_predicate,
}


def statements(cluster: str | None = None) -> list[str]:
    on = f" ON CLUSTER '{cluster}'" if cluster else ""
    out = [f"CREATE ROLE IF NOT EXISTS {role}{on}" for role in POLICIES]
    readable = [*PERSONAL_TABLES, *VIEWS]
    out += [
        f"GRANT{on} SELECT ON deskpulse.* TO deskpulse_analyst",
        f"GRANT{on} INSERT ON deskpulse.team_members_store TO deskpulse_analyst",
        f"GRANT{on} SELECT, INSERT, CREATE TABLE, CREATE VIEW, ALTER, DROP TABLE "
        "ON deskpulse.* TO deskpulse_sink",
        f"GRANT{on} SELECT ON deskpulse.team_members TO deskpulse_manager",
        f"GRANT{on} SELECT ON deskpulse.team_members_store TO deskpulse_manager",
    ]
    for role in ("deskpulse_manager", "deskpulse_employee"):
        out += [f"GRANT{on} SELECT ON deskpulse.{name} TO {role}" for name in readable]
    for table in PERSONAL_TABLES:
        for role, predicate in POLICIES.items():
            out.append(f"CREATE ROW POLICY IF NOT EXISTS {role}_rows ON deskpulse.{table}{on} "
                       f"FOR SELECT USING {predicate(ME)} TO {role}")
    return out


def render(cluster: str | None = None) -> str:
    header = ("-- deskpulse roles and row policies, rendered by `deskpulse db access`.\n"
              "-- Create users and grant them a role, e.g.:\n"
              "--   CREATE USER alice IDENTIFIED WITH sha256_password BY '...';\n"
              "--   GRANT deskpulse_employee TO alice;\n"
              "-- A manager is a team_members row with role = 'manager' and their login "
              "as user.\n")
    return header + "\n" + ";\n".join(statements(cluster)) + ";\n"
