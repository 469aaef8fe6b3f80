"""deskpulse: privacy-first workplace telemetry pipeline.

``deskpulse.core`` is the kernel every stage shares (errors, settings, logging, process
helpers, the ``stack.json`` format, the SQL store protocol); ``deskpulse.ops`` the
operations (embedded stack, store access, report, boards, policies); ``deskpulse.cli``
the ``deskpulse`` command. The pipeline stages live in the sibling packages
``collector``, ``streams`` and ``sinks``, their contract in ``schemas``. This module
imports nothing (README "Layout").
"""

__version__ = "0.1.0"
