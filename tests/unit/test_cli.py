from click.testing import CliRunner

from deskpulse.cli import cli
from deskpulse.core.output import render


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_query_without_a_running_stack_is_a_clear_error(tmp_path):
    result = run("query", "SELECT 1", "--data-dir", str(tmp_path / "none"))
    assert result.exit_code == 3
    assert result.output.startswith("StackNotRunning: no embedded stack is running with data dir")
    assert "deskpulse up" in result.output
    assert "Traceback" not in result.output


def test_status_without_stack_via_environment(tmp_path):
    result = run("status", env={"DESKPULSE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 3
    assert "StackNotRunning" in result.output


def test_bad_format_and_bad_day_are_usage_errors(tmp_path):
    result = run("query", "SELECT 1", "--format", "xml", "--data-dir", str(tmp_path))
    assert result.exit_code == 2 and "'xml' is not one of" in result.output
    result = run("simulate", "--day", "yesterday", "--data-dir", str(tmp_path))
    assert result.exit_code == 2 and "is not a date like 2026-11-20" in result.output


def test_missing_config_file_is_a_config_error(tmp_path):
    result = run("status", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert result.output.startswith("ConfigError: config file")


def test_render_formats():
    cols, rows = ["user", "hours"], [["alice", 1.5], ["bob, jr", 2]]
    assert render(cols, rows, "csv") == 'user,hours\nalice,1.5\n"bob, jr",2\n'
    assert render(cols, rows, "json").startswith('[\n  {\n    "user": "alice"')
    table = render(cols, rows, "table")
    assert "alice" in table and table.endswith("(2 rows)\n")


def test_collect_without_a_display_or_on_wayland_exits_cleanly(tmp_path):
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "XDG_SESSION_TYPE": "",
           "DESKPULSE_DATA_DIR": str(tmp_path)}
    result = run("collect", env=env)
    assert result.exit_code == 4
    assert result.output.startswith("ProbeUnavailable: no graphical session: neither "
                                    "WAYLAND_DISPLAY nor DISPLAY is set")
    result = run("collect", env={**env, "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "w-0",
                                 "XDG_RUNTIME_DIR": str(tmp_path)})
    assert result.exit_code == 4
    assert result.output.startswith("ProbeUnavailable: cannot connect to the Wayland "
                                    f"compositor at {tmp_path}/w-0")
    assert "Traceback" not in result.output


def test_collector_commands_without_a_running_collector(tmp_path):
    env = {"DESKPULSE_COLLECTOR_CONTROL_SOCKET": str(tmp_path / "none.sock")}
    result = run("collector", "status", env=env)
    assert result.exit_code == 3 and "no collector is running" in result.output
    result = run("collector", "pause", "--for", "half an hour", env=env)
    assert result.exit_code == 2 and "is not a duration like 30m" in result.output


def test_unknown_collector_setting_is_named(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[collector]\npoll_intervall = 2\n")
    result = run("collector", "status", "--config", str(cfg))
    assert result.exit_code == 2
    assert "unknown collector setting 'poll_intervall'" in result.output


def test_collector_status_without_a_collector_says_what_this_session_would_get(tmp_path):
    env = {"DESKPULSE_COLLECTOR_CONTROL_SOCKET": str(tmp_path / "none.sock"),
           "DISPLAY": None, "WAYLAND_DISPLAY": None, "XDG_SESSION_TYPE": None}
    result = run("collector", "status", env=env)
    assert result.exit_code == 3 and "no collector is running" in result.output
    assert ("here: no usable probe: no graphical session: neither WAYLAND_DISPLAY nor DISPLAY "
            "is set (run the collector inside the desktop session)") in result.output
    result = run("collector", "status", env={**env, "WAYLAND_DISPLAY": "wayland-7",
                                             "XDG_RUNTIME_DIR": str(tmp_path),
                                             "XDG_CURRENT_DESKTOP": "GNOME",
                                             "DBUS_SESSION_BUS_ADDRESS":
                                                 f"unix:path={tmp_path}/no-bus"})
    assert "here: no usable probe: cannot connect to the D-Bus session bus" in result.output
    assert "Traceback" not in result.output
