"""The GNOME probe's pure parts: app naming, the extension variant, enabling it."""

import json

import pytest

from collector.probes import ProbeUnavailable
from collector.probes.gnome import (
    EXTENSION_DIR,
    UUID,
    app_name,
    enabled_with,
    install,
    shell_major,
    variant_for,
)


def test_app_name_prefers_the_wm_class_like_the_x11_probe():
    assert app_name("org.gnome.TextEditor.desktop", "gnome-text-editor", "") == \
        "gnome-text-editor"
    assert app_name("org.gnome.TextEditor.desktop", "", "") == "org.gnome.TextEditor"
    assert app_name("", "", "python3") == "python3"
    assert app_name("", "", "") == "unknown"


def test_each_shell_gets_its_variant_and_old_ones_are_refused():
    assert shell_major("GNOME Shell 43.9\n") == 43
    assert variant_for(43).name == variant_for(44).name == "shell43"
    assert variant_for(46).name == "shell45"
    with pytest.raises(ProbeUnavailable, match="older than 43"):
        variant_for(42)
    for variant in ("shell43", "shell45"):
        meta = json.loads((EXTENSION_DIR / variant / "metadata.json").read_text())
        assert meta["uuid"] == UUID
    assert "43" in json.loads((EXTENSION_DIR / "shell43/metadata.json").read_text())[
        "shell-version"]


def test_install_copies_the_variant_and_enabling_adds_it_once(tmp_path):
    target = install(tmp_path, 46)
    assert target == tmp_path / ".local/share/gnome-shell/extensions" / UUID
    assert "export default class" in (target / "extension.js").read_text()
    assert enabled_with("@as []") == f"['{UUID}']"
    assert enabled_with(f"['a@b', '{UUID}']") == f"['a@b', '{UUID}']"
    assert enabled_with("['a@b']") == f"['a@b', '{UUID}']"
