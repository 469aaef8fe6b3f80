"""deskpulse: privacy-first workplace telemetry pipeline.

This package holds the ``deskpulse`` command, the typed settings, the error
tree and the embedded stack. The pipeline stages live in the sibling packages
``schemas``, ``collector``, ``streams`` and ``sinks``.
"""

__version__ = "0.1.0"
