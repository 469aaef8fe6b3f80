"""``python -m deskpulse.cli``: the ``deskpulse`` command."""

from deskpulse.cli import main

main()
