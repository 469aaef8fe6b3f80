import json
import re
import zipfile

import pytest

from collector.browser import MAX_AGE_MS, BrowserReports, parse_report
from collector.config import collector_settings
from collector.extension import FILES, build
from deskpulse.core.errors import ConfigError


def test_manifest_asks_for_little_and_never_reads_pages_or_private_windows(tmp_path):
    built = build(tmp_path)
    manifest = json.loads((built.unpacked / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3
    assert manifest["incognito"] == "not_allowed"
    assert "content_scripts" not in manifest, "page content is never read"
    assert sorted(manifest["permissions"]) == ["alarms", "storage", "tabs"]
    assert manifest["host_permissions"] == ["http://127.0.0.1/*"]
    assert manifest["background"]["service_worker"] == "background.js"
    source = (built.unpacked / "background.js").read_text()
    used = set(re.findall(r"\bapi\.(\w+)\.", source))
    assert used == {"storage", "runtime", "tabs", "windows", "alarms"}, used


def test_build_writes_the_token_only_into_the_unpacked_copy(tmp_path):
    built = build(tmp_path, port=5123, token="t" * 24)
    config = built.unpacked / "config.json"
    assert json.loads(config.read_text()) == {"port": 5123, "token": "t" * 24}
    assert config.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(built.zip) as zf:
        assert sorted(zf.namelist()) == sorted(FILES)
    with pytest.raises(ConfigError):
        build(tmp_path, port=5123)


def test_reports_answer_for_browsers_only_and_go_stale():
    now = [1000.0]
    reports = BrowserReports(clock=lambda: now[0])
    reports.update("chromium", "https://a.example/x", "A")
    reports.update("firefox", "https://b.example/y", "B")
    at = int(now[0] * 1000)
    assert reports.url_for("Chromium", at) == "https://a.example/x"
    assert reports.url_for("google-chrome", at) == "https://a.example/x"
    assert reports.url_for("Navigator", at) == "https://b.example/y"
    assert reports.url_for("code", at) == ""
    assert reports.url_for("chromium", at + MAX_AGE_MS + 1) == ""
    reports.update("chromium", "", "")  # focus left for a private window: no site
    assert reports.url_for("chromium", at) == ""


def test_report_bodies_are_checked():
    assert parse_report(b'{"browser": "firefox", "url": "https://x.org", "title": "t"}') == (
        "firefox", "https://x.org", "t")
    for bad in (b"[]", b'{"browser": "ie"}', b'{"browser": "chromium", "url": "about:blank"}',
                b'{"browser": "chromium", "url": 3}'):
        with pytest.raises(ValueError):
            parse_report(bad)


def test_browser_port_needs_a_real_token(tmp_path):
    with pytest.raises(ConfigError, match="browser_token"):
        collector_settings({"browser_port": 5000, "browser_token": "short"}, {},
                           tenant="acme", data_dir=tmp_path)
    ok = collector_settings({"browser_port": 5000, "browser_token": "x" * 20}, {},
                            tenant="acme", data_dir=tmp_path)
    assert ok.browser_port == 5000
