"""Productivity categories through the real broker, worker and chDB.

A rule added mid-stream labels later events only; ``recategorize`` then relabels
the history exactly; the time per productivity class always adds up to the
person's active time.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from click.testing import CliRunner

from deskpulse.cli import cli
from deskpulse.core.procs import http_json
from tests.conftest import assert_settles, wait_for
from tests.integration.test_policies import dp, event, q, send

pytestmark = [pytest.mark.integration, pytest.mark.brokers]

TENANT = "cats"
MIN = 60_000


def day_start(days_ago: int) -> tuple[dt.date, int]:
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)
    return day, int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def batch(prefix: str, base: int) -> list[dict]:
    """pat: code 20 min, example.org 15 min, youtube 5 min, an uncategorized app 10 min;
    quinn: example.org 30 min (idle for 10 of them)."""
    t = base + 10 * 3_600_000
    return [
        event(TENANT, "pat", "pat-pc", t, t + 20 * MIN, f"{prefix}-1", app="code"),
        event(TENANT, "pat", "pat-pc", t + 20 * MIN, t + 35 * MIN, f"{prefix}-2", app="firefox",
              url="https://wiki.example.org/page", title="Research notes"),
        event(TENANT, "pat", "pat-pc", t + 35 * MIN, t + 40 * MIN, f"{prefix}-3", app="firefox",
              url="https://www.youtube.com/watch?v=1", title="Cats - YouTube"),
        event(TENANT, "pat", "pat-pc", t + 40 * MIN, t + 50 * MIN, f"{prefix}-4", app="kcalc"),
        event(TENANT, "quinn", "q-pc", t, t + 20 * MIN, f"{prefix}-5", app="firefox",
              url="https://example.org/"),
        event(TENANT, "quinn", "q-pc", t + 20 * MIN, t + 30 * MIN, f"{prefix}-6", app="firefox",
              url="https://example.org/", idle=True),
    ]


def per_class(store, view: str = "activity_minutes") -> dict[tuple[str, str, str], float]:
    rows = q(store, f"SELECT user, category, productivity, sum(active_seconds) FROM "
                    f"deskpulse.{view} WHERE tenant = '{TENANT}' GROUP BY user, category, "
                    "productivity HAVING sum(active_seconds) > 0")
    return {(u, c, p): round(s, 3) for u, c, p, s in rows}


def expected(labels: dict[str, tuple[str, str]], events: list[dict]):
    out: dict[tuple[str, str, str], float] = defaultdict(float)
    for ev in events:
        if not ev.get("idle"):
            out[(ev["user"], *labels[ev["event_id"].split("-")[-1]])] += \
                (ev["end_ms"] - ev["start_ms"]) / 1000
    return dict(out)


BEFORE = {"1": ("development", "productive"), "2": ("uncategorized", "neutral"),
          "3": ("entertainment", "unproductive"), "4": ("uncategorized", "neutral"),
          "5": ("uncategorized", "neutral"), "6": ("uncategorized", "neutral")}
AFTER = {**BEFORE, "2": ("research", "productive"), "5": ("research", "productive"),
         "6": ("research", "productive"), "4": ("tools", "neutral")}


def policy_records(stack) -> int:
    return http_json(f"{stack.worker_url}/health")[1]["policy_records"]


def records_seen(stack, count: int) -> None:
    wait_for(lambda: policy_records(stack) >= count, 30,
             f"the worker to apply {count} policy records")


def test_rules_label_later_events_and_recategorize_relabels_history(stack, stack_store):
    since, base = day_start(2)
    first = batch("old", base)
    send(stack, first)
    wait_for(lambda: q(stack_store, f"SELECT count() FROM deskpulse.activity_spans WHERE "
                                    f"tenant = '{TENANT}'")[0][0] == len(first), 120,
             "the first events")
    assert_settles(lambda: per_class(stack_store), expected(BEFORE, first),
                   what="labels from the shipped defaults")

    # mid-stream: the tenant adds two rules; they label what is processed from now on
    applied = policy_records(stack)
    out = dp(stack, "category", "set", "--domain", "example.org", "--category", "research",
             "--productivity", "productive", "--tenant", TENANT)
    assert "added: domain 'example.org' -> research/productive" in out
    dp(stack, "category", "set", "--title", "^kcalc", "--category", "nope", "--productivity",
       "neutral", "--tenant", TENANT)
    dp(stack, "category", "set", "--app", "KCalc", "--category", "tools", "--productivity",
       "neutral", "--tenant", TENANT)
    dp(stack, "category", "remove", "--title", "^kcalc", "--tenant", TENANT)
    listed = dp(stack, "category", "list", "--tenant", TENANT)
    assert "example.org" in listed and "kcalc" in listed and "^kcalc" not in listed
    tested = dp(stack, "category", "test", "--url", "https://docs.example.org/x", "--app",
                "firefox", "--tenant", TENANT)
    assert tested.splitlines() == ["research / productive",
                                   "rule: domain 'example.org' -> research/productive "
                                   f"(tenant {TENANT})"]
    records_seen(stack, applied + 4)

    second_day, second_base = day_start(1)
    second = batch("new", second_base)
    send(stack, second)
    wait_for(lambda: q(stack_store, f"SELECT count() FROM deskpulse.activity_spans WHERE "
                                    f"tenant = '{TENANT}'")[0][0] == len(first) + len(second),
             120, "the later events")
    both = {**expected(BEFORE, first)}
    for k, v in expected(AFTER, second).items():
        both[k] = round(both.get(k, 0) + v, 3)
    assert_settles(lambda: per_class(stack_store), both,
                   what="old events keep their labels, new ones get the new rules")

    active = q(stack_store, f"SELECT user, sum(active_seconds) FROM deskpulse.activity_minutes "
                            f"WHERE tenant = '{TENANT}' GROUP BY user")
    by_class = defaultdict(float)
    for (user, _, _), seconds in per_class(stack_store).items():
        by_class[user] += seconds
    assert {u: round(s, 3) for u, s in active} == {u: round(s, 3) for u, s in by_class.items()}

    # history relabelled on request, exactly, in every view; totals unchanged
    result = CliRunner().invoke(cli, ["recategorize", "--since", since.isoformat(), "--yes",
                                      "--tenant", TENANT, "--data-dir", stack.data_dir])
    assert result.exit_code == 0, result.output
    relabelled = expected(AFTER, first + second)
    assert per_class(stack_store) == relabelled
    assert per_class(stack_store, "activity_hourly") == relabelled
    assert per_class(stack_store, "activity_daily") == relabelled
    assert q(stack_store, f"SELECT DISTINCT category, productivity FROM deskpulse.activity_spans "
                          f"WHERE tenant = '{TENANT}' AND domain = 'example.org'") == \
        [("research", "productive")]
    spans = q(stack_store, f"SELECT count() FROM deskpulse.activity_spans WHERE tenant = "
                           f"'{TENANT}'")[0][0]
    assert spans == len(first) + len(second), "relabelling adds no span"
    assert "relabelled" in result.output
    again = CliRunner().invoke(cli, ["recategorize", "--since", since.isoformat(), "--yes",
                                     "--tenant", TENANT, "--data-dir", stack.data_dir])
    assert "relabelled 0 rows" in again.output, "a second run finds nothing to change"
    assert second_day > since


def test_bad_rules_are_refused_and_nothing_is_published(stack):
    before = http_json(f"{stack.worker_url}/health")[1]["category_rules"]
    for args, message in [
        (["--title", "(oops"], "not a valid regular expression"),
        (["--domain", "https://x.org/a"], "give the site's domain"),
        (["--app", "a", "--domain", "b.org"], "exactly one of --app, --domain or --title"),
    ]:
        result = CliRunner().invoke(cli, ["category", "set", *args, "--category", "x",
                                          "--productivity", "neutral", "--tenant", TENANT,
                                          "--data-dir", stack.data_dir])
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["recategorize", "--since", "last week", "--yes",
                                      "--data-dir", stack.data_dir])
    assert result.exit_code == 2 and "is not a date like" in result.output
    assert http_json(f"{stack.worker_url}/health")[1]["category_rules"] == before


def test_team_rules_follow_the_membership_synced_from_clickhouse(stack, stack_store):
    for user in ("mia", "max"):  # an admin operation: the query path is read-only
        dp(stack, "team", "add", "--team", "media", "--user", user, "--tenant", TENANT)
    applied = policy_records(stack)
    synced = dp(stack, "category", "sync-teams", "--tenant", TENANT)
    assert "team media: 2 people" in synced
    out = dp(stack, "category", "set", "--domain", "youtube.com", "--category", "video",
             "--productivity", "productive", "--team", "media", "--tenant", TENANT)
    assert "team media" in out and "note:" not in out
    records_seen(stack, applied + 2)
    listed = dp(stack, "category", "list", "--tenant", TENANT)
    assert "team media: max, mia" in listed

    _, base = day_start(1)
    t = base + 15 * 3_600_000
    send(stack, [event(TENANT, user, f"{user}-pc", t, t + 10 * MIN, f"team-{user}",
                       app="firefox", url="https://www.youtube.com/watch?v=2")
                 for user in ("mia", "pat")])
    wait_for(lambda: len(q(stack_store, f"SELECT event_id FROM deskpulse.activity_spans WHERE "
                                        f"tenant = '{TENANT}' AND event_id LIKE 'team-%'")) == 2,
             120, "the team events")
    labels = dict((u, (c, p)) for u, c, p in q(
        stack_store, f"SELECT user, category, productivity FROM deskpulse.activity_spans "
                     f"WHERE tenant = '{TENANT}' AND event_id LIKE 'team-%'"))
    assert labels == {"mia": ("video", "productive"), "pat": ("entertainment", "unproductive")}

    # mia leaves the team: after the next sync her events get the tenant's label again
    dp(stack, "team", "remove", "--team", "media", "--user", "mia", "--tenant", TENANT)
    applied = policy_records(stack)
    assert "team media: 1 person" in dp(stack, "category", "sync-teams", "--tenant", TENANT)
    records_seen(stack, applied + 1)
    assert dp(stack, "category", "test", "--domain", "youtube.com", "--user", "mia",
              "--tenant", TENANT).splitlines()[0] == "entertainment / unproductive"
    assert dp(stack, "category", "test", "--domain", "youtube.com", "--user", "max",
              "--tenant", TENANT).splitlines()[0] == "video / productive"
