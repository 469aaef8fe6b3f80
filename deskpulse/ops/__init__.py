"""The operations the ``deskpulse`` command calls: the embedded stack (``embedded``,
``broker``, ``health``), store access, the report, the boards, policy operations and the
demo's wait. They import the kernel and the stages, never the face."""
