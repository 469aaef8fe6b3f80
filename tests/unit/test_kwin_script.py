"""The shipped KWin script's logic under node, with KWin's script API (workspace, callDBus)
stubbed, for KWin 5 (clientActivated/activeClient) and 6 (windowActivated/activeWindow)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from collector.probes.kde import SCRIPT, window_from

STUB = Path(__file__).with_name("kwin_stub.js")


@pytest.mark.parametrize("major", ["5", "6"])
def test_the_script_reports_activations_and_caption_changes(major):
    if shutil.which("node") is None:
        pytest.skip("node not installed (.ci/run installs nodejs)")
    out = subprocess.run(["node", str(STUB), str(SCRIPT), major], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    result = json.loads(out)
    target = ["dev.deskpulse.KWin", "/dev/deskpulse/KWin", "dev.deskpulse.KWin1", "Focus"]
    assert all(call[:4] == target for call in result["calls"])
    assert [call[4:] for call in result["calls"]] == [
        ["", "", "", 0],                                   # loaded with nothing active
        ["Report.odt", "libreoffice-writer", "libreoffice-writer", 41],
        ["Report v2.odt", "libreoffice-writer", "libreoffice-writer", 41],  # caption change
        ["Inbox", "thunderbird", "", 0],                   # the old window is not followed
        ["", "", "", 0],
    ]
    assert result["followedSlots"] == 0, "no caption handler left on windows not active"


def test_window_from_focus_arguments():
    assert window_from("", "", "", 0) is None
    assert window_from("Inbox", "thunderbird", "", 0).app == "thunderbird"
    assert window_from("Doc", "", "org.kde.kate", 0).app == "org.kde.kate"
