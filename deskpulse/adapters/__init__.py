"""Shared adapters: the I/O the stages have in common, below them and above the kernel.

Today one: :mod:`deskpulse.adapters.policy_topics` publishes and follows the compacted
policy topics, which the stream worker (do-not-track, schedules, categories, device
modes), the sink (the subject-access export, recategorising) and the operations read.
The import contracts in ``pyproject.toml`` keep it from importing a stage or the face.
"""
