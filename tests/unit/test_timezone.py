"""The tenant's time zone: a checked setting, and the boards' zone (dashboard and SQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from deskpulse.core.errors import ConfigError
from deskpulse.core.settings import check_timezone, load_settings
from deskpulse.ops.boards.dashboards import BOARDS, TEAM_OVERVIEW, WORKING_HOURS, model
from deskpulse.ops.boards.macros import TimeRange, expand

R = TimeRange(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), dt.datetime(2026, 11, 21, tzinfo=dt.UTC))


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires",
                                  "Asia/Kolkata", "Etc/GMT+5"])
def test_iana_zones_are_accepted(zone):
    assert check_timezone(zone) == zone


@pytest.mark.parametrize("zone", ["", "Nowhere/Land", "Europe/", "x'); DROP TABLE t; --",
                                  "../../etc/passwd", "utc'"])
def test_anything_else_is_a_config_error_naming_the_source(zone):
    with pytest.raises(ConfigError, match=r"time zone .* \(DESKPULSE_TIMEZONE\)"):
        check_timezone(zone, "DESKPULSE_TIMEZONE")


def test_the_setting_comes_from_flag_environment_or_config_file(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('timezone = "Asia/Tokyo"\n')
    assert load_settings(config=config, environ={}).timezone == "Asia/Tokyo"
    assert load_settings(config=config, environ={"DESKPULSE_TIMEZONE": "Europe/Paris"}
                         ).timezone == "Europe/Paris"
    assert load_settings(config=config, timezone="UTC", environ={}).timezone == "UTC"
    config.write_text('tenant = "x"\n')
    assert load_settings(config=config, environ={}).timezone == "UTC"
    config.write_text('timezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match="timezone in"):
        load_settings(config=config, environ={})


def test_every_board_shows_its_times_in_the_tenants_zone():
    for board in BOARDS:
        dash = model(board, "Europe/Berlin")
        assert dash["timezone"] == "Europe/Berlin"
        [tz] = [v for v in dash["templating"]["list"] if v["name"] == "tz"]
        assert tz["type"] == "constant" and tz["query"] == "Europe/Berlin" and tz["hide"] == 2
    assert model(TEAM_OVERVIEW)["timezone"] == "utc"


def test_the_hour_of_day_and_the_first_and_last_activity_are_computed_in_that_zone():
    hours = next(p for p in TEAM_OVERVIEW.panels if p.title == "Activity by hour of day")
    sql = expand(hours.sql, R, {"tenant": "t", "person": ["a"]}, timezone="Asia/Tokyo")
    assert "toHour(hour, 'Asia/Tokyo')" in sql
    first = next(p for p in WORKING_HOURS.panels if "In-schedule" in p.title)
    sql = expand(first.sql, R, {"tenant": "t", "person": ["a"], "tz": "Europe/Berlin"})
    assert "toString(min(start), 'Europe/Berlin')" in sql
