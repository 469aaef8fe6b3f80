"""The rule set deskpulse ships: a starting point every tenant can override.

A tenant's own rules (``deskpulse category set``) beat these for the same kind of
match; ``deskpulse category list --defaults`` shows them. The classes follow what
an office of knowledge workers would expect; an organisation whose work *is*
social media, say, overrides those domains for its marketing team.
"""

from __future__ import annotations

from schemas.categories import Rule

_P, _N, _U = "productive", "neutral", "unproductive"

_APPS: tuple[tuple[str, str, str], ...] = (
    # development
    ("code", "development", _P), ("code-oss", "development", _P), ("vscodium", "development", _P),
    ("pycharm", "development", _P), ("idea", "development", _P), ("goland", "development", _P),
    ("webstorm", "development", _P), ("clion", "development", _P), ("rider", "development", _P),
    ("android-studio", "development", _P), ("xcode", "development", _P),
    ("devenv", "development", _P), ("sublime_text", "development", _P),
    ("vim", "development", _P), ("nvim", "development", _P), ("emacs", "development", _P),
    ("gnome-terminal", "development", _P), ("konsole", "development", _P),
    ("alacritty", "development", _P), ("kitty", "development", _P), ("iterm2", "development", _P),
    ("terminal", "development", _P), ("windowsterminal", "development", _P),
    ("dbeaver", "development", _P), ("postman", "development", _P),
    # office
    ("libreoffice", "office", _P), ("libreoffice-writer", "office", _P),
    ("libreoffice-calc", "office", _P), ("soffice", "office", _P), ("winword", "office", _P),
    ("excel", "office", _P), ("powerpnt", "office", _P), ("onenote", "office", _P),
    ("evince", "office", _P), ("acrord32", "office", _P), ("notion", "office", _P),
    ("obsidian", "office", _P),
    # design
    ("figma", "design", _P), ("figma-linux", "design", _P), ("gimp", "design", _P),
    ("inkscape", "design", _P),
    ("blender", "design", _P), ("photoshop", "design", _P),
    # communication
    ("slack", "communication", _N), ("teams", "communication", _N),
    ("ms-teams", "communication", _N), ("zoom", "communication", _N),
    ("thunderbird", "communication", _N), ("outlook", "communication", _N),
    ("mail", "communication", _N), ("signal", "communication", _N),
    ("discord", "communication", _N), ("skype", "communication", _N),
    # entertainment
    ("spotify", "entertainment", _U), ("steam", "entertainment", _U),
    ("vlc", "entertainment", _U),
)

_DOMAINS: tuple[tuple[str, str, str], ...] = (
    # development
    ("github.com", "development", _P), ("gitlab.com", "development", _P),
    ("bitbucket.org", "development", _P), ("stackoverflow.com", "development", _P),
    ("stackexchange.com", "development", _P), ("docs.python.org", "development", _P),
    ("pypi.org", "development", _P), ("readthedocs.io", "development", _P),
    ("developer.mozilla.org", "development", _P), ("npmjs.com", "development", _P),
    ("atlassian.net", "development", _P), ("sentry.io", "development", _P),
    ("clickhouse.com", "development", _P),
    ("localhost", "development", _P),
    # office
    ("docs.google.com", "office", _P), ("drive.google.com", "office", _P),
    ("sheets.google.com", "office", _P), ("office.com", "office", _P),
    ("sharepoint.com", "office", _P), ("notion.so", "office", _P),
    ("confluence.com", "office", _P), ("dropbox.com", "office", _P),
    # sales
    ("force.com", "sales", _P), ("hubspot.com", "sales", _P), ("salesforce.com", "sales", _P),
    # design
    ("figma.com", "design", _P), ("miro.com", "design", _P),
    # communication
    ("mail.google.com", "communication", _N), ("outlook.office.com", "communication", _N),
    ("outlook.live.com", "communication", _N), ("slack.com", "communication", _N),
    ("teams.microsoft.com", "communication", _N), ("zoom.us", "communication", _N),
    ("meet.google.com", "communication", _N), ("calendar.google.com", "communication", _N),
    # reference
    ("wikipedia.org", "reference", _N), ("google.com", "reference", _N),
    ("bing.com", "reference", _N), ("duckduckgo.com", "reference", _N),
    # news
    ("news.ycombinator.com", "news", _N), ("bbc.co.uk", "news", _N),
    ("nytimes.com", "news", _N), ("theguardian.com", "news", _N),
    # social
    ("facebook.com", "social", _U), ("instagram.com", "social", _U),
    ("x.com", "social", _U), ("twitter.com", "social", _U), ("reddit.com", "social", _U),
    ("tiktok.com", "social", _U), ("linkedin.com", "social", _N),
    # entertainment
    ("youtube.com", "entertainment", _U), ("netflix.com", "entertainment", _U),
    ("twitch.tv", "entertainment", _U), ("primevideo.com", "entertainment", _U),
    ("disneyplus.com", "entertainment", _U), ("spotify.com", "entertainment", _U),
    # shopping
    ("amazon.com", "shopping", _U), ("ebay.com", "shopping", _U),
)

_TITLES: tuple[tuple[str, str, str], ...] = (
    # browsers without the extension still show the site in the title
    (r"\bYouTube\b", "entertainment", _U),
    (r"\bNetflix\b", "entertainment", _U),
)

DEFAULT_RULES: tuple[Rule, ...] = tuple(
    Rule.build(kind, pattern, category, productivity, created_ms=order)
    for order, (kind, (pattern, category, productivity)) in enumerate(
        [("app", r) for r in _APPS] + [("domain", r) for r in _DOMAINS]
        + [("title", r) for r in _TITLES]))
