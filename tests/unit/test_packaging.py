"""The frozen collector's command and the package definitions (the install itself:
tests/integration/test_package_install.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
import yaml

from collector import standalone
from collector.config import collector_settings
from collector.control import ControlServer
from deskpulse.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "deploy" / "packaging"


def test_the_config_file_is_the_flag_the_environment_the_persons_then_the_fleets(tmp_path):
    home, fleet = tmp_path / "home.toml", tmp_path / "etc.toml"
    pick = standalone.config_file
    assert pick(None, {}, home, fleet) is None
    fleet.write_text("")
    assert pick(None, {}, home, fleet) == str(fleet)
    home.write_text("")
    assert pick(None, {}, home, fleet) == str(home)
    assert pick(None, {"DESKPULSE_CONFIG": "/env.toml"}, home, fleet) == "/env.toml"
    assert pick("/flag.toml", {"DESKPULSE_CONFIG": "/env.toml"}, home, fleet) == "/flag.toml"


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("1h30m", 5400), ("2d", 172800),
                                                ("1s", 1)])
def test_pause_durations(text, seconds):
    assert standalone.pause_for(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "8d", "0s", "1" * 5000 + "s", "-5m"])
def test_bad_pause_durations_are_one_line_config_errors(text):
    with pytest.raises(ConfigError) as err:
        standalone.pause_for(text)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


def test_a_bad_command_line_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as done:
        standalone.main(["frobnicate"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("UsageError: ") and err.count("\n") == 1
    assert standalone.main(["pause", "--for", "9d"]) == 2
    assert capsys.readouterr().err.startswith("ConfigError: --for '9d'")


def test_pause_resume_status_through_a_running_control_channel(tmp_path, monkeypatch, capsys):
    state = {"paused": False, "spooled": 3, "dropped": 0, "published": 9, "session": {}}
    seen = []

    def handle(req):
        seen.append((req.cmd, req.for_s))
        state["paused"] = req.cmd == "pause" or (state["paused"] and req.cmd == "status")
        return dict(state)
    monkeypatch.setenv("DESKPULSE_COLLECTOR_CONTROL_SOCKET", str(tmp_path / "run" / "ctl"))
    monkeypatch.setenv("DESKPULSE_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    monkeypatch.setenv("DESKPULSE_BOOTSTRAP", "127.0.0.1:9")
    for transport in ("unix", "tcp"):  # Linux and macOS; Windows
        seen.clear()
        server = ControlServer(tmp_path / "run" / "ctl", handle, transport=transport)
        server.start()
        try:
            assert standalone.main(["collector", "pause", "--for", "30m"]) == 0
            assert "private mode: ON" in capsys.readouterr().out
            assert standalone.main(["status"]) == 0
            assert "3 events waiting" in capsys.readouterr().out
            assert standalone.main(["resume"]) == 0
            assert "private mode: off" in capsys.readouterr().out
        finally:
            server.stop()
        assert seen == [("pause", 1800.0), ("status", None), ("resume", None)]


def test_status_without_a_collector_says_so_and_why_in_one_line_each(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.setenv("DESKPULSE_COLLECTOR_CONTROL_SOCKET", str(tmp_path / "absent.sock"))
    monkeypatch.setenv("DESKPULSE_CONFIG", str(tmp_path / "c.toml"))
    (tmp_path / "c.toml").write_text("")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    assert standalone.main(["status"]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("here: no usable probe: no graphical session")
    assert err[1].startswith("StackNotRunning: no collector is running")


def test_the_frozen_entry_point_imports_no_cli_chdb_or_faust():
    """What the bundle leaves out must not be needed: run the command, list the imports."""
    probe = ("import sys; from collector.standalone import main; main(['status']); "
             "print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'click', 'chdb', 'faust', 'clickhouse_connect', 'streams', 'sinks', 'mode', "
             "'aiokafka'}), [m for m in sys.modules if m.startswith('deskpulse.cli')])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env={"PATH": "/usr/bin:/bin",
                                                     "PYTHONPATH": str(REPO),
                                                     "HOME": "/nonexistent"})
    assert done.stdout.strip().splitlines()[-1] == "[] []", done.stdout + done.stderr
    spec = (PKG / "deskpulse-collector.spec").read_text()
    for module in ("click", "chdb", "faust", "clickhouse_connect", "streams", "sinks"):
        assert f'"{module}"' in spec, f"{module} is not excluded from the bundle"


def test_a_browser_token_file_is_read_only_when_the_endpoint_is_on(tmp_path):
    token = tmp_path / "browser-token"
    token.write_text("a" * 48 + "\n")
    on = collector_settings({"browser_port": 5866, "browser_token_file": str(token)}, {},
                            tenant="default", data_dir=tmp_path)
    assert on.browser_token == "a" * 48
    off = collector_settings({"browser_token_file": str(tmp_path / "missing")}, {},
                             tenant="default", data_dir=tmp_path)
    assert off.browser_token == ""
    with pytest.raises(ConfigError, match="browser_token_file"):
        collector_settings({"browser_port": 5866, "browser_token_file": str(tmp_path / "no")},
                           {}, tenant="default", data_dir=tmp_path)
    explicit = collector_settings({"browser_port": 5866, "browser_token": "b" * 20,
                                   "browser_token_file": str(token)}, {}, tenant="default",
                                  data_dir=tmp_path)
    assert explicit.browser_token == "b" * 20


def test_the_packaged_default_config_is_what_the_collector_reads(tmp_path):
    import tomllib

    from deskpulse.core.settings import load_settings
    config = PKG / "etc" / "config.toml"
    parsed = tomllib.loads(config.read_text())
    settings = load_settings(config=config, environ={})
    assert settings.kafka is not None and settings.tenant == "default"
    collector_settings(parsed["collector"], {}, tenant=settings.tenant, data_dir=tmp_path)


def test_the_user_unit_verifies_and_runs_the_frozen_collector(tmp_path):
    systemd_analyze = shutil.which("systemd-analyze")
    if systemd_analyze is None:
        pytest.skip("systemd-analyze not installed (.ci/run installs systemd)")
    unit = (PKG / "systemd" / "deskpulse-collector.service").read_text()
    assert "ExecStart=/usr/bin/deskpulse-collector collect" in unit
    assert "WantedBy=graphical-session.target" in unit and "PartOf=graphical-session.target" \
        in unit
    fake_bin = tmp_path / "deskpulse-collector"
    fake_bin.write_text("#!/bin/sh\n")
    fake_bin.chmod(0o755)
    installed = tmp_path / "deskpulse-collector.service"
    installed.write_text(unit.replace("/usr/bin/deskpulse-collector", str(fake_bin)))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    done = subprocess.run([systemd_analyze, "--user", "verify", str(installed)],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(runtime),
                               "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr


def test_nfpm_definition_conffile_scripts_and_contents():
    nfpm = yaml.safe_load((PKG / "nfpm.yaml").read_text())
    by_dst = {c["dst"]: c for c in nfpm["contents"]}
    assert by_dst["/etc/deskpulse/config.toml"]["type"] == "config|noreplace"
    assert by_dst["/usr/bin/deskpulse-collector"]["type"] == "symlink"
    assert by_dst["/usr/lib/systemd/user/deskpulse-collector.service"]
    assert {"/usr/share/deskpulse/gnome-shell/shell43", "/usr/share/deskpulse/gnome-shell/shell45",
            "/usr/share/deskpulse/browser-policies"} <= set(by_dst)
    for src in (c["src"] for c in nfpm["contents"] if c.get("type") != "symlink"):
        assert src.startswith("__BUILD__/") or (REPO / src).exists(), src
    assert set(nfpm["scripts"]) == {"postinstall", "preremove", "postremove"}
    for name in ("postinst", "prerm", "postrm"):
        script = (PKG / "scripts" / name).read_text()
        assert script.count("\n#@common@\n") == 1, name
        merged = script.replace("#@common@", (PKG / "scripts" / "common.sh").read_text())
        done = subprocess.run(["sh", "-n"], input=merged, capture_output=True, text=True,
                              timeout=10)
        assert done.returncode == 0, f"{name}: {done.stderr}"


def test_the_windows_install_takes_the_frozen_build_and_the_task_runs_it():
    script = (REPO / "deploy" / "windows" / "install-collector.ps1").read_text()
    assert re.search(r"\[Parameter\(Mandatory\)\] \[string\] \$Bundle", script)
    code = "\n".join(re.sub(r"#.*$", "", line) for line in script.splitlines())
    assert not re.search(r"\bpy\b|python|pip |venv", code, re.IGNORECASE), \
        "the install needs no Python"
    installs_to = re.search(r'\$Exe = "\$App\\(.+)"', script).group(1)
    app = re.search(r'\$App = "\$Root\\(.+)"', script).group(1)
    root = re.search(r'\$Root = "(.+)"', script).group(1)
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    task = ET.parse(REPO / "deploy" / "windows" / "deskpulse-collector-task.xml").getroot()
    assert task.find("t:Actions/t:Exec/t:Command", ns).text == f"{root}\\{app}\\{installs_to}"
    args = task.find("t:Actions/t:Exec/t:Arguments", ns).text
    parsed = standalone._parser().parse_args(
        [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', args)])
    assert parsed.command == "collect" and parsed.config.endswith("collector.toml")


def test_browser_policy_templates_are_json():
    for path in (PKG / "browser-policies").glob("*.json"):
        assert orjson.loads(path.read_bytes())


def test_the_desktop_build_workflow_is_a_valid_github_workflow():
    """It runs on hosted Windows and macOS runners only; here its syntax is checked."""
    workflow = REPO / ".github" / "workflows" / "desktop-builds.yml"
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows",
                           str(workflow)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    assert {jobs["windows"]["runs-on"], jobs["macos"]["runs-on"]} == {"windows-latest",
                                                                       "macos-latest"}
    steps = " ".join(str(step) for job in jobs.values() for step in job["steps"])
    for name in ("test_windows_probe.py", "test_macos_probe.py", "test_platform_smoke.py",
                 "deskpulse-collector.spec", "Sign (placeholder)", "Notarise (placeholder)",
                 "MSI installer (placeholder)", "pkgbuild"):
        assert name in steps, name
