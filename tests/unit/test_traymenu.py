"""The tray indicator's model (icon, tooltip, menu) for each collector state."""

from __future__ import annotations

import datetime as dt

from collector.mydata.traymenu import look, menu


def enabled(items) -> dict[str, bool]:
    return {i.label: i.enabled for i in items if not i.separator and i.action is not None}


def test_recording_offers_the_pauses_and_not_resume():
    status = {"paused": False, "spooled": 0}
    items = menu("recording", status, can_open=True)
    assert enabled(items) == {"Pause for 15 minutes": True, "Pause for 1 hour": True,
                              "Pause until I resume": True, "Resume recording": False,
                              "Open my data": True}
    assert [i.action for i in items if i.action] == [("pause", 900.0), ("pause", 3600.0),
                                                     ("pause", None), ("resume", None),
                                                     ("open", None)]
    assert look("recording", status) == ("media-record", "deskpulse is recording")


def test_paused_offers_resume_and_says_until_when():
    until = int(dt.datetime(2026, 12, 2, 14, 30, tzinfo=dt.UTC).timestamp() * 1000)
    status = {"paused": True, "paused_until_ms": until, "spooled": 0}
    assert enabled(menu("paused", status, can_open=False)) == {
        "Pause for 15 minutes": False, "Pause for 1 hour": False,
        "Pause until I resume": False, "Resume recording": True, "Open my data": False}
    assert look("paused", status) == ("media-playback-pause",
                                      "deskpulse is paused (private mode) until 14:30")
    assert look("paused", {**status, "paused_until_ms": None})[1].endswith("until you resume")


def test_waiting_says_how_many_events_wait():
    assert look("waiting", {"paused": False, "spooled": 12}) == (
        "network-transmit", "deskpulse is recording; 12 events wait to be sent")
    assert menu("waiting", {"paused": False, "spooled": 12}, can_open=True)[0].label == \
        "deskpulse is recording; 12 events wait to be sent"
