"""The one exception tree of deskpulse.

::

    DeskpulseError                  root: everything deskpulse raises on purpose
    ├── ConfigError                 bad settings, flags or files (a user mistake)
    │   ├── UsageError              a command line that cannot be parsed (click's usage errors)
    │   ├── PolicyError             a policy (do-not-track, schedule, category) that is refused
    │   └── CredentialError         a device secret or credential refused (schemas.auth)
    ├── StackError                  the embedded stack cannot be found or started
    │   └── StackNotRunning         no running stack behind a data dir
    ├── QueryError                  SQL rejected by ClickHouse (message from the engine)
    │   ├── QueryRefused            SQL the read-only query path does not run
    │   └── ResultTooLarge          a result above the query path's bound
    ├── OperationalError            retryable: a service is unreachable or failing
    │   ├── BrokerUnavailable       Kafka / tansu cannot be reached
    │   ├── StoreUnavailable        ClickHouse / chDB cannot be reached or written
    │   └── GrafanaError            Grafana refused or could not be reached
    ├── ProbeUnavailable            no window probe works here, exit code 4 (collector.probes)
    ├── ProbeLost                   the display went away (collector.probes)
    └── ControlLost                 the control socket stopped serving (collector.control)

The classes outside this module are defined beside the code that raises them (a stage
imports the kernel, never the other way round); ``tests/unit/test_kernel.py`` checks
this drawing against the classes.

Context travels as keyword fields (``hint=``, ``code=``); third-party
exceptions are translated at the boundary with ``raise ... from exc``.
The CLI prints ``Type: message`` for these and exits non-zero (click's own usage
errors are shown the same way, as ``UsageError``); anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class DeskpulseError(Exception):
    """Root of every error deskpulse raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(DeskpulseError):
    """Settings, flags or files that cannot be used as given."""

    exit_code = 2


class UsageError(ConfigError):
    """A command line that cannot be parsed: unknown option, missing or invalid value."""


class PolicyError(ConfigError):
    """A policy that is refused (unknown zone, malformed hours, a bad rule, ...)."""


class StackError(DeskpulseError):
    """The embedded stack cannot be started, found or talked to."""


class StackNotRunning(StackError):
    """No running embedded stack behind the data dir."""

    exit_code = 3


class QueryError(DeskpulseError):
    """ClickHouse refused a query; the message is the engine's."""


class QueryRefused(QueryError):
    """SQL the read-only query path does not run (writes, table functions, settings...)."""


class ResultTooLarge(QueryError):
    """A result above the query path's bound (rows or bytes)."""


class OperationalError(DeskpulseError):
    """A retryable failure of a service deskpulse depends on."""


class BrokerUnavailable(OperationalError):
    """The Kafka broker cannot be reached."""


class StoreUnavailable(OperationalError):
    """ClickHouse cannot be reached or written."""


class GrafanaError(OperationalError):
    """Grafana refused or could not be reached."""
