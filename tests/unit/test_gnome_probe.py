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


# -- the signal-driven state (collector.probes.gnome.Signalled) ---------------------------
from collector.probes.gnome import REQUERY_S, Signalled, has_changed_signal  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_only_an_extension_that_declares_changed_is_followed_by_signal():
    shipped = (EXTENSION_DIR / "shell45" / "extension.js").read_text()
    assert has_changed_signal(shipped)
    assert has_changed_signal((EXTENSION_DIR / "shell43" / "extension.js").read_text())
    older = shipped.replace('<signal name="Changed">', "<!-- none -->")
    assert not has_changed_signal(older)


def test_the_first_sample_asks_then_signals_are_read_from_memory():
    clock = Clock()
    focus = Signalled(REQUERY_S, clock)
    gen = focus.due()
    assert gen is not None  # nothing known yet: ask
    focus.queried(gen, ("a", "", "A", 1))
    assert focus.due() is None and focus.value == ("a", "", "A", 1)
    focus.signal(("b", "", "B", 2))
    clock.now += REQUERY_S / 2
    assert focus.due() is None and focus.value == ("b", "", "B", 2)


def test_a_missed_signal_leaves_a_stale_window_for_one_requery_period_at_most():
    clock = Clock()
    focus = Signalled(REQUERY_S, clock)
    focus.queried(focus.due(), ("a", "", "A", 1))
    # the focus moved to "b" and its Changed signal was lost: nothing tells the probe
    for _ in range(int(REQUERY_S) - 1):
        clock.now += 1
        assert focus.due() is None
    clock.now += 1
    gen = focus.due()
    assert gen is not None, "a slow re-query is due"
    focus.queried(gen, ("b", "", "B", 2))
    assert focus.value == ("b", "", "B", 2) and focus.missed == 1
    assert focus.due() is None


def test_an_answer_overtaken_by_a_signal_is_dropped():
    clock = Clock()
    focus = Signalled(REQUERY_S, clock)
    gen = focus.due()
    focus.signal(("new", "", "N", 3))  # arrives while the Get call is on its way
    focus.queried(gen, ("old", "", "O", 4))
    assert focus.value == ("new", "", "N", 3) and focus.missed == 0


def test_no_answer_or_a_new_owner_asks_again_at_the_next_sample():
    clock = Clock()
    focus = Signalled(REQUERY_S, clock)
    focus.queried(focus.due(), None, ok=False)  # locked: the extension's name is gone
    assert focus.due() is not None
    focus.queried(focus.due(), ("a", "", "A", 1))
    assert focus.due() is None
    focus.invalidate()  # the extension came back under a new owner
    assert focus.due() is not None
