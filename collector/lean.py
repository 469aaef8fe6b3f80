"""The collector process's lean-import policy (its RSS budget is 30 MB).

:func:`without_openssl` makes Python's OpenSSL bindings (``_hashlib``, ``_ssl``)
unimportable in this process, before anything imports them. The collector makes no
TLS connection from Python (librdkafka links its own OpenSSL statically) and hashes
only a few events a minute, so ``hashlib``/``hmac`` fall back to CPython's built-in
SHA-2 (same digests; ``hmac.compare_digest`` stays constant-time), and a module that
would import ``ssl`` (``http.client``, should anything load it) loads without HTTPS. That
keeps the system ``libcrypto`` (about 3.5 MB resident once initialised) out of the process.

What else the collect path must not load (``http.server``, python-xlib, psutil,
``subprocess``...: each replaced by a few lines that do what the collector needs) is
listed and checked by ``tests/unit/test_collector_lean.py``.

Called by the collector's entry point only, never on import: other processes (the
worker verifying signatures at full speed, the tests) keep OpenSSL.
"""

from __future__ import annotations

import sys

#: modules the collector process never loads (``None`` in sys.modules: ImportError)
BLOCKED = ("_hashlib", "_ssl", "ssl")


def without_openssl() -> list[str]:
    """Block :data:`BLOCKED` unless already imported; returns the ones blocked."""
    blocked = [name for name in BLOCKED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    return blocked
