"""A synthetic desktop: what the probes of one simulated person would see, second by second.

Pure and seeded: the same seed gives the same day. Used by ``deskpulse
simulate`` to drive the collector's own span builder and publisher.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from collector.spans import Sample

# (app, exe, title template, urls) — urls non-empty for browsers
_CODE = ("code", "/usr/share/code/code", "{file} - deskpulse - Visual Studio Code", ())
_TERM = ("gnome-terminal", "/usr/bin/gnome-terminal-server", "make test", ())
_SLACK = ("slack", "/usr/lib/slack/slack", "Slack | #{channel}", ())
_ZOOM = ("zoom", "/opt/zoom/zoom", "Zoom Meeting", ())
_WRITER = ("libreoffice-writer", "/usr/lib/libreoffice/program/soffice.bin",
           "{doc}.odt - LibreOffice Writer", ())
_CALC = ("libreoffice-calc", "/usr/lib/libreoffice/program/soffice.bin",
         "{doc}.ods - LibreOffice Calc", ())
_FIGMA = ("figma-linux", "/opt/figma/figma-linux", "{doc} - Figma", ())
_THUNDER = ("thunderbird", "/usr/lib/thunderbird/thunderbird", "Inbox - Thunderbird", ())


def _web(*urls: str) -> tuple[str, str, str, tuple[str, ...]]:
    return ("firefox", "/usr/lib/firefox/firefox", "{page} — Mozilla Firefox", urls)


_DEV_WEB = _web("https://github.com/deskpulse/deskpulse/pulls", "https://docs.python.org/3/library/",
                "https://stackoverflow.com/questions/tagged/python",
                "https://clickhouse.com/docs/en/sql-reference")
_WORK_WEB = _web("https://mail.google.com/mail/u/0/", "https://calendar.google.com/calendar/",
                 "https://acme.atlassian.net/jira/software/projects", "https://www.notion.so/acme")
_CRM_WEB = _web("https://acme.lightning.force.com/lightning/page/home",
                "https://www.linkedin.com/sales/", "https://app.hubspot.com/contacts")
_FUN_WEB = _web("https://www.youtube.com/watch", "https://news.ycombinator.com/",
                "https://www.reddit.com/r/programming/", "https://twitter.com/home")

#: role -> [(activity, weight)]
ROLES: dict[str, list[tuple[tuple[str, str, str, tuple[str, ...]], int]]] = {
    "developer": [(_CODE, 40), (_TERM, 15), (_DEV_WEB, 15), (_SLACK, 10), (_ZOOM, 6),
                  (_WORK_WEB, 8), (_FUN_WEB, 6)],
    "designer": [(_FIGMA, 45), (_SLACK, 12), (_ZOOM, 10), (_WORK_WEB, 15), (_FUN_WEB, 8),
                 (_WRITER, 10)],
    "sales": [(_CRM_WEB, 35), (_ZOOM, 20), (_THUNDER, 15), (_CALC, 10), (_SLACK, 10),
              (_FUN_WEB, 10)],
    "support": [(_WORK_WEB, 35), (_SLACK, 25), (_THUNDER, 15), (_ZOOM, 10), (_WRITER, 5),
                (_FUN_WEB, 10)],
    "manager": [(_ZOOM, 30), (_THUNDER, 15), (_CALC, 15), (_WORK_WEB, 20), (_SLACK, 15),
                (_WRITER, 5)],
}
_FILES = ("spans.py", "core.py", "stack.py", "README.md", "Makefile", "test_minutes.py")
_CHANNELS = ("general", "dev", "support", "random", "release")
_DOCS = ("Q4 plan", "Roadmap", "Onboarding", "Pricing", "Budget 2027")
_PAGES = ("Inbox", "Pull requests", "Board", "Docs", "Home", "Search results")
NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
         "yvonne", "zoe", "arthur", "beatrice", "cedric", "delia", "edgar", "fiona", "gus")


@dataclass(frozen=True)
class Persona:
    user: str
    host: str
    role: str
    seed: int


def fleet(count: int, seed: int = 7) -> list[Persona]:
    roles = list(ROLES)
    out = []
    for i in range(count):
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i // len(NAMES)))
        out.append(Persona(user=name, host=f"{name}-laptop", role=roles[i % len(roles)],
                           seed=seed * 1_000_003 + i))
    return out


def _pick(rng: random.Random, role: str) -> Sample:
    acts, weights = zip(*ROLES[role], strict=True)
    app, exe, template, urls = rng.choices(acts, weights)[0]
    title = template.format(file=rng.choice(_FILES), channel=rng.choice(_CHANNELS),
                            doc=rng.choice(_DOCS), page=rng.choice(_PAGES))
    url = rng.choice(urls) if urls else ""
    return Sample(at_ms=0, app=app, exe=exe, title=title, url=url)


def day_samples(persona: Persona, day_start_ms: int, *, start_hour: float = 8.5,
                hours: float = 8.5, step_ms: int = 1000) -> Iterator[Sample]:
    """One sample per ``step_ms`` for a working day beginning around ``start_hour`` UTC."""
    rng = random.Random(persona.seed)
    begin = day_start_ms + int((start_hour + rng.uniform(-0.75, 0.75)) * 3_600_000)
    end = begin + int((hours + rng.uniform(-0.5, 0.5)) * 3_600_000)
    lunch_at = begin + int(rng.uniform(3.5, 4.5) * 3_600_000)
    lunch_end = lunch_at + int(rng.uniform(30, 60) * 60_000)
    t = begin
    current = _pick(rng, persona.role)
    stint_end = t
    idle_until = 0
    while t < end:
        if t >= stint_end:
            current = _pick(rng, persona.role)
            stint_end = t + int(rng.expovariate(1 / 240) * 1000) + 10_000  # mean ~4 min
            if rng.random() < 0.04:  # a short break away from the desk
                idle_until = t + int(rng.uniform(3, 15) * 60_000)
        idle = lunch_at <= t < lunch_end or t < idle_until
        yield Sample(at_ms=t, app=current.app, exe=current.exe, title=current.title,
                     url=current.url, idle=idle)
        t += step_ms
