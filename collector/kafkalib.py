"""confluent-kafka's producer without its package ``__init__`` (the collector's RSS).

``import confluent_kafka`` runs the package's ``__init__``, which loads its asyncio
client, serializers and schema-registry glue: asyncio, ssl, subprocess, inspect,
concurrent.futures... about 5 MB of RSS in a process that only ever needs the C
``Producer`` and its ``KafkaError``/``KafkaException`` (all defined in
``confluent_kafka.cimpl``).

:func:`cimpl` imports ``confluent_kafka.cimpl`` under a *lazy* package module: the
package object is created from its real spec but its ``__init__`` runs only when an
attribute the stub lacks is asked for (``from confluent_kafka import Consumer``,
``import confluent_kafka.admin``...), so any other code in the same process still
sees the whole package. If the package is already imported, it is used as is.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

PACKAGE = "confluent_kafka"
_lock = threading.Lock()


class _LazyPackage(ModuleType):
    """The package module; its ``__init__`` runs on the first attribute it lacks."""

    def __getattr__(self, name: str) -> Any:
        if self.__dict__.get("_deskpulse_loaded", True):
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")
        with _lock:
            if not self.__dict__["_deskpulse_loaded"]:
                self.__dict__["_deskpulse_loaded"] = True
                self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
        return ModuleType.__getattribute__(self, name)


def cimpl() -> ModuleType:
    """``confluent_kafka.cimpl``, without running the package's ``__init__`` if it can."""
    with _lock:
        if PACKAGE not in sys.modules:
            spec = importlib.util.find_spec(PACKAGE)
            if spec is None or spec.loader is None or spec.submodule_search_locations is None:
                raise ImportError(f"cannot find the {PACKAGE} package")
            package = importlib.util.module_from_spec(spec)
            package.__class__ = _LazyPackage
            package.__dict__["_deskpulse_loaded"] = False
            sys.modules[PACKAGE] = package
    import confluent_kafka.cimpl
    return confluent_kafka.cimpl
