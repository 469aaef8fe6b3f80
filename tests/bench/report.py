"""Recording benchmark results in BENCHMARKS.md (one generated section per benchmark)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path

import psutil

BENCHMARKS = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"
HEADER = """# deskpulse benchmarks

Measured by `make bench` (each section says how to run it alone). Sections are
rewritten in place by the benchmark that owns them; numbers are from the machine
named in each section. Targets come from DESIGN.md §7.
"""


def machine() -> str:
    return (f"{platform.node() or 'machine'}: {os.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def record(name: str, body: str) -> None:
    """Replace (or add) the section ``name`` in BENCHMARKS.md."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (f"<!-- bench:{name} -->\n{body.strip()}\n\n_Recorded {stamp} on {machine()}._\n"
               f"<!-- /bench:{name} -->")
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->",
                         re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else \
        f"{text.rstrip()}\n\n{section}\n"
    BENCHMARKS.write_text(text if text.endswith("\n") else text + "\n")
