from click.testing import CliRunner

from deskpulse.cli import cli
from deskpulse.output import render


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
