"""Packaging the browser extension: ``deskpulse extension build``.

Produces the unpacked extension (for ``--load-extension``, Firefox's
``about:debugging`` or a fleet's local install) and a zip of the extension
itself (for a store upload or Firefox's ``policies.json``). The unpacked copy
gets ``config.json`` with the collector's port and token when they are given;
the zip never does, and an extension without it reads them from browser policy
(managed storage) or its options page.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deskpulse.core.errors import ConfigError

FILES = ("manifest.json", "background.js", "options.html", "options.js", "managed_schema.json")


@dataclass(frozen=True)
class Built:
    unpacked: Path
    zip: Path
    version: str


def build(out: Path, port: int = 0, token: str = "") -> Built:
    if bool(port) != bool(token):
        raise ConfigError("give both --port and --token (the collector's browser_port and "
                          "browser_token), or neither")
    if port and not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a port number")
    source = resources.files("collector") / "browser_extension"
    unpacked = out / "deskpulse-extension"
    if unpacked.exists():
        shutil.rmtree(unpacked)
    unpacked.mkdir(parents=True)
    for name in FILES:
        (unpacked / name).write_bytes((source / name).read_bytes())
    if port:
        (unpacked / "config.json").write_text(json.dumps({"port": port, "token": token}) + "\n")
        (unpacked / "config.json").chmod(0o600)
    version = json.loads((unpacked / "manifest.json").read_text())["version"]
    archive = out / f"deskpulse-extension-{version}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in FILES:  # never config.json: the zip is the same for every install
            zf.write(unpacked / name, name)
    return Built(unpacked, archive, version)
