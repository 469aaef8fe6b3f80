"""What must never reach a terminal raw (tests of :mod:`deskpulse.core.output`)."""

from __future__ import annotations

import re

#: C0 controls except tab and newline, DEL, C1 controls, bidi marks, embeddings, overrides
#: and isolates, zero-width space, line/paragraph separators, tag characters, surrogates
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069"
                 "\u2028\u2029\U000e0000-\U000e007f\ud800-\udfff]")


def raw_controls(text: str) -> list[str]:
    """The unsafe characters in ``text`` (tab and newline are allowed)."""
    return RAW.findall(text)
