"""User mistakes end in one line ``Type: message`` on stderr and a non-zero exit, never a
traceback: the real ``deskpulse`` command for each mistake, in this process (click's
runner) or, where only a process shows it (librdkafka writes to file descriptor 2
itself, the entry point's own parsing), as a subprocess.

Every case of ``MISTAKES`` ended in a traceback, a hang of ten seconds and a traceback,
a multi-line usage screen, or a message that did not name the problem before these
checks existed. ``ALREADY_ONE_LINE`` were fine before and are kept that way.
No service is started: the broker cases point at a closed loopback port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskpulse.cli import cli
from deskpulse.core.procs import free_port

CLI = [sys.executable, "-m", "deskpulse.cli"]
HOURS = ["--hours", "mon-fri 09:00-17:00"]


@dataclass(frozen=True)
class Case:
    argv: list[str]
    says: str  # what the one line must contain (it names the problem)
    config: str | None = None  # written to config.toml and passed with --config
    env: dict[str, str] = field(default_factory=dict)
    code: int | None = None  # the exit code, when it matters
    process: bool = False  # run as a subprocess
    data_dir: bool = True  # give --data-dir (commands without a stack take none)


def config(text: str, *argv: str, says: str, **kw) -> Case:
    return Case(list(argv) or ["status"], says, config=text, **kw)


COLLECTOR = ["collector", "status"]
BROKER = "{closed}"  # replaced by a closed loopback port
DOWN = "BrokerUnavailable: cannot reach the Kafka broker at 127.0.0.1:"

MISTAKES = {
    # the config file: its shape and the types of its values
    "kafka-not-a-table": config('kafka = "x"\n', says="kafka must be a table, not 'x'"),
    "bootstrap-not-a-string": config("[kafka]\nbootstrap = 5\n",
                                     says="[kafka] bootstrap must be a string, not 5"),
    "tenant-not-a-string": config("tenant = 5\n", says="tenant must be a string, not 5"),
    "tenant-with-slash-in-file": config('tenant = "a/b"\n',
                                        says="tenant 'a/b' (tenant in"),
    "data-dir-not-a-string": config("data_dir = 5\n", says="data_dir must be a string"),
    "kafka-extra-a-list": config('[kafka.extra]\n"client.id" = [1]\n',
                                 says="'client.id' must be a string, number or boolean"),
    "collector-not-a-table": config("collector = 5\n", *COLLECTOR,
                                    says="collector must be a table, not 5"),
    "not-utf8": config('tenant = "\xff"\n', says="cannot read config file", process=True),
    "poll-interval-list": config("[collector]\npoll_interval = [1]\n", *COLLECTOR,
                                 says="poll_interval must be a number, not [1]"),
    "poll-interval-nan": config("[collector]\npoll_interval = nan\n", *COLLECTOR,
                                says="poll_interval must be a number, not nan"),
    "poll-interval-inf": config("[collector]\npoll_interval = inf\n", *COLLECTOR,
                                says="poll_interval must be a number, not inf"),
    "poll-interval-negative": config("[collector]\npoll_interval = -1\n", *COLLECTOR,
                                     says="poll_interval = -1 is out of range (from 0.01"),
    "poll-interval-bool": config("[collector]\npoll_interval = true\n", *COLLECTOR,
                                 says="poll_interval must be a number, not True"),
    "poll-interval-env-nan": Case(COLLECTOR, env={"DESKPULSE_COLLECTOR_POLL_INTERVAL": "nan"},
                                  says="poll_interval must be a number, not 'nan'"),
    "spool-max-float": config("[collector]\nspool_max_events = 1.5\n", *COLLECTOR,
                              says="spool_max_events must be an integer, not 1.5"),
    "max-span-over-an-hour": config("[collector]\nmax_span = 7200\n", *COLLECTOR,
                                    says="max_span = 7200 is out of range"),
    "capture-titles-list": config("[collector]\ncapture_titles = [1]\n", *COLLECTOR,
                                  says="capture_titles must be true or false"),
    "redact-not-strings": config("[collector]\nredact = [1]\n", *COLLECTOR,
                                 says="redact must be a list of strings"),
    "url-mode-number": config("[collector]\nurl_mode = 5\n", *COLLECTOR,
                              says="url_mode must be a string, not 5"),
    "collector-zone-a-directory": config(
        '[collector]\ntimezone = "Europe"\nhours = "mon-fri 09:00-17:00"\n', *COLLECTOR,
        says="unknown time zone 'Europe'"),
    "collector-tenant-slash": config('[collector]\ntenant = "a/b"\n', *COLLECTOR,
                                     says="tenant 'a/b' ([collector] tenant)"),
    "collector-empty-user": config('[collector]\nuser = ""\n', *COLLECTOR,
                                   says="user = '' must have 1-255 characters"),
    "config-is-a-directory": Case(["status", "--config", "{tmp}"], says="is a directory"),
    # the broker's address
    "bootstrap-colons": Case(["dnt", "list"], env={"DESKPULSE_BOOTSTRAP": "::::"},
                             says="'::::' (DESKPULSE_BOOTSTRAP) is not a list of host:port"),
    "bootstrap-not-a-port": Case(["dnt", "list"], env={"DESKPULSE_BOOTSTRAP": "host:notaport"},
                                 says="'host:notaport' (DESKPULSE_BOOTSTRAP) is not a list"),
    "bootstrap-spaces": Case(["dnt", "list"], env={"DESKPULSE_BOOTSTRAP": "  "},
                             says="'  ' (DESKPULSE_BOOTSTRAP) is not a list of host:port"),
    "bootstrap-port-zero": Case(["schedule", "show", "--bootstrap", "kafka:0"],
                                says="'kafka:0' (--bootstrap) is not a list of host:port"),
    "bootstrap-in-file": config('[kafka]\nbootstrap = "a b"\n', "dnt", "list",
                                says="'a b' ([kafka] bootstrap in"),
    # the broker does not answer: a bounded wait, then its address
    "dnt-add-broker-down": Case(["dnt", "add", "--user", "x", "--bootstrap", BROKER],
                                says=DOWN, process=True),
    "dnt-list-broker-down": Case(["dnt", "list", "--bootstrap", BROKER],
                                 says="Connection refused", process=True),
    "schedule-set-broker-down": Case(["schedule", "set", "--default", "--tz", "UTC", *HOURS,
                                      "--bootstrap", BROKER],
                                     says=DOWN, process=True),
    "schedule-show-unknown-host": Case(["schedule", "show", "--bootstrap",
                                        "deskpulse-nowhere.invalid:9092"],
                                       says="at deskpulse-nowhere.invalid:9092: Failed to resolve",
                                       process=True),
    "category-list-broker-down": Case(["category", "list", "--bootstrap", BROKER],
                                      says=DOWN, process=True),
    "category-defaults-broker-down": Case(["category", "defaults", "off", "--bootstrap",
                                           BROKER], says="cannot reach the Kafka broker at",
                                          process=True),
    "simulate-broker-down": Case(["simulate", "--collectors", "1", "--bootstrap", BROKER],
                                 says=DOWN, process=True),
    "unknown-kafka-setting": Case(["dnt", "list", "--bootstrap", BROKER],
                                  env={"DESKPULSE_KAFKA_NO_SUCH_THING": "1"},
                                  says='settings are refused: No such configuration property: '
                                       '"no.such.thing"', process=True),
    # policies
    "zone-is-a-directory": Case(["schedule", "set", "--default", "--tz", "Europe", *HOURS],
                                says="PolicyError: unknown time zone 'Europe'"),
    "dnt-two-subjects": Case(["dnt", "add", "--user", "a", "--host", "b"],
                             says="UsageError: name exactly one subject"),
    # the tenant: the first half of every message key <tenant>/<user>
    "tenant-with-slash": Case(["dnt", "add", "--user", "x", "--tenant", "a/b"],
                              says="tenant 'a/b' (--tenant) is not a tenant name", code=2),
    "tenant-from-env": Case(["forget", "--user", "x", "--yes"], env={"DESKPULSE_TENANT": "a/b"},
                            says="tenant 'a/b' (DESKPULSE_TENANT) is not a tenant name"),
    "tenant-empty": Case(["forget", "--user", "x", "--yes", "--tenant", ""],
                         says="tenant '' (--tenant) is not a tenant name"),
    "tenant-too-long": Case(["schedule", "show", "--tenant", "t" * 65],
                            says="is not a tenant name"),
    "tenant-newline": Case(["category", "list", "--tenant", "acme\n"],
                           says="tenant 'acme\\n' (--tenant) is not a tenant name"),
    # paths
    "data-dir-under-a-file": Case(["up", "--kafka-port", "0", "--data-dir", "{tmp}/file/sub"],
                                  says="ConfigError: data dir {tmp}/file/sub cannot be used: "
                                       "Not a directory"),
    "data-dir-is-a-file": Case(["up", "--kafka-port", "0", "--data-dir", "{tmp}/file"],
                               says="Directory '{tmp}/file' is a file"),
    "data-dir-read-only": Case(["up", "--kafka-port", "0", "--data-dir", "{read_only}"],
                               says="ConfigError: data dir {read_only} cannot be used: "
                                    "Permission denied"),
    "report-html-in-a-missing-dir": Case(["report", "--html", "{tmp}/missing/report.html"],
                                         says="ConfigError: cannot write {tmp}/missing/"),
    "extension-out-under-a-file": Case(["extension", "build", "--out", "{tmp}/file/x"],
                                       says="ConfigError: output dir {tmp}/file/x cannot be "
                                            "used: Not a directory", data_dir=False),
    "grafana-export-read-only": Case(["grafana", "export", "--out", "{read_only}"],
                                     says="output dir {read_only} cannot be used: Permission "
                                          "denied", data_dir=False),
    "db-render-out-in-a-missing-dir": Case(["db", "render", "--out", "{tmp}/missing/s.sql"],
                                           says="ConfigError: cannot write {tmp}/missing/s.sql:"
                                                " No such file or directory", data_dir=False),
    "db-access-out-under-a-file": Case(["db", "access", "--out", "{tmp}/file/a.sql"],
                                       says="cannot write {tmp}/file/a.sql: Not a directory",
                                       data_dir=False),
    # a person's own data (issue 20)
    "export-blank-user": Case(["export", "--user", " ", "--out", "{tmp}/x"],
                              says="ConfigError: refusing to export an empty or blank login"),
    "export-into-a-full-dir": Case(["export", "--user", "ann", "--out", "{tmp}"],
                                   says="ConfigError: output dir {tmp} is not empty"),
    "report-blank-user": Case(["report", "--user", " "],
                              says="ConfigError: --user must name one login"),
    # reports people would rather look at (issue 20, point 5)
    "report-unknown-timezone": Case(["report", "--timezone", "Mars/Olympus"],
                                    says="time zone 'Mars/Olympus' (--timezone) is not a "
                                         "known IANA time zone"),
    "report-timezone-from-env": Case(["report"], env={"DESKPULSE_TIMEZONE": "utc'; --"},
                                     says="(DESKPULSE_TIMEZONE) is not a known IANA time zone"),
    "timezone-in-config": config('timezone = "Europe/Nowhere"\n', "report",
                                 says="time zone 'Europe/Nowhere' (timezone in"),
    "report-from-after-to": Case(["report", "--from", "2026-11-05", "--to", "2026-11-04"],
                                 says="ConfigError: --from 2026-11-05 is after --to 2026-11-04"),
    "report-bad-date": Case(["report", "--from", "2026-13-01"],
                            says="'2026-13-01' is not a date like 2026-11-20"),
    "report-blank-team": Case(["report", "--team", " "],
                              says="ConfigError: --team must name a team"),
    "report-blank-user-among-several": Case(["report", "--user", "ann", "--user", ""],
                                            says="ConfigError: --user must name one login"),
    "grafana-export-unknown-timezone": Case(["grafana", "export", "--timezone", "X/Y",
                                             "--out", "{tmp}/b"],
                                            says="time zone 'X/Y' (--timezone) is not",
                                            data_dir=False),
    "demo-html-under-a-file": Case(["demo", "--html", "{tmp}/file/r.html"],
                                   says="ConfigError: report dir {tmp}/file is not a directory"),
    "collector-open-without-collector": Case(["collector", "open", "--print-url"],
                                             says="StackNotRunning: no my-data page is running"),
    # the command line itself
    "unknown-command": Case(["dnt", "ad"], says="UsageError: No such command 'ad'"),
    "unknown-option": Case(["--bogus"], says="UsageError: No such option: --bogus",
                           process=True, data_dir=False),
}

ALREADY_ONE_LINE = {
    "not-toml": config("a = [\n", says="cannot read config file"),
    "zone-path": Case(["schedule", "set", "--default", "--tz", "../../etc/passwd", *HOURS],
                      says="unknown time zone '../../etc/passwd'"),
    "zone-empty": Case(["schedule", "set", "--default", "--tz", "", *HOURS],
                       says="unknown time zone ''"),
    "hours-no-minutes": Case(["schedule", "set", "--default", "--tz", "UTC",
                              "--hours", "mon-fri 9-17"], says="are not like 'mon-fri 09:00"),
    "hours-past-midnight": Case(["schedule", "set", "--default", "--tz", "UTC",
                                 "--hours", "mon 25:00-26:00"], says="from 00:00 to 24:00"),
    "hours-empty": Case(["schedule", "set", "--default", "--tz", "UTC", "--hours", ""],
                        says="hours '' are not like"),
    "day-off-not-a-date": Case(["schedule", "set", "--default", "--tz", "UTC", *HOURS,
                                "--off", "2026-13-01"], says="is not a date like"),
    "missing-config": Case(["status", "--config", "{tmp}/nope.toml"], says="does not exist"),
}


def read_only_dir(tmp: Path) -> Path:
    """A directory this process cannot write: a 0555 one, or for root a kernel one."""
    if os.geteuid() != 0:
        ro = tmp / "read-only"
        ro.mkdir(mode=0o555)
        return ro
    for candidate in (Path("/sys/kernel"), Path("/proc/sys")):
        try:
            (candidate / ".deskpulse-probe").mkdir()
        except OSError:
            return candidate
        (candidate / ".deskpulse-probe").rmdir()
    pytest.skip("no directory here is read-only for root")


def run(case: Case, tmp: Path) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    values = {"tmp": str(tmp), "closed": f"127.0.0.1:{free_port()}"}
    if "{read_only}" in " ".join(case.argv) + case.says:
        values["read_only"] = str(read_only_dir(tmp))
    (tmp / "file").write_text("")
    argv = [a.format(**values) if a != "{closed}" else values["closed"] for a in case.argv]
    if case.config is not None:
        (tmp / "config.toml").write_bytes(case.config.encode("latin-1"))
        argv += ["--config", str(tmp / "config.toml")]
    if case.data_dir and "--data-dir" not in argv:
        argv += ["--data-dir", str(tmp / "data")]
    env = {"XDG_RUNTIME_DIR": str(tmp), "XDG_CONFIG_HOME": str(tmp / "xdg"),
           "DESKPULSE_COLLECTOR_CONTROL_SOCKET": str(tmp / "none.sock"), **case.env}
    if not case.process:
        # the runner sets these for the call; None removes a variable
        unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("DESKPULSE_")}
        result = CliRunner().invoke(cli, argv, env={**unset, **env}, catch_exceptions=True)
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            "".join(traceback.format_exception(result.exception))
        return subprocess.CompletedProcess(argv, result.exit_code, result.stdout,
                                           result.stderr), values
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DESKPULSE_")}, **env}
    done = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL, cwd=tmp)
    return done, values


def check_one_line(case: Case, tmp: Path) -> None:
    done, values = run(case, tmp)
    lines = done.stderr.splitlines()
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, f"expected one line on stderr, got:\n{done.stderr}"
    kind, _, message = lines[0].partition(": ")
    assert kind.isidentifier() and message, lines[0]
    assert case.says.format(**values) in lines[0], lines[0]
    if case.code is not None:
        assert done.returncode == case.code


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistake_is_one_line_naming_it(name, tmp_path):
    check_one_line(MISTAKES[name], tmp_path)


@pytest.mark.parametrize("name", sorted(ALREADY_ONE_LINE))
def test_mistakes_that_were_already_one_line_stay_so(name, tmp_path):
    check_one_line(ALREADY_ONE_LINE[name], tmp_path)


def test_unknown_config_keys_are_named_in_a_warning_and_the_command_goes_on(tmp_path):
    done, _ = run(config('tenat = "acme"\n"x\\u001b[2J" = 1\n[kafka]\nbootstrapp = "x:1"\n',
                         "status", says=""), tmp_path)
    assert done.returncode == 3 and "StackNotRunning" in done.stderr, done.stderr
    assert "unknown key tenat is ignored (known: tenant, data_dir" in done.stderr
    assert ("unknown key [kafka] bootstrapp is ignored "
            "(known: bootstrap, extra, device_credential)") in done.stderr
    assert "unknown key x\\x1b[2J is ignored" in done.stderr and "\x1b" not in done.stderr
