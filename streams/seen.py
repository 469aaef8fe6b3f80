"""The dedup index of the stream workers: in memory per partition, logged to a topic.

Each activity partition ``p`` has its own index, persisted in partition ``p`` of
``deskpulse.streams.seen`` as one message per processed batch (a JSON array of
``[key, expires_ms, offset]``). A worker that is assigned partition ``p`` reads
that log to its end before it processes any event of ``p``; a revoked partition
is forgotten. The worker writes the log before it commits the source offsets:
an event whose seen entry was lost in a crash is read again from the source
and recorded again at the same position.

This module is the pure index; reading the log from Kafka is :mod:`streams.seen_io`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class PartitionedSeenIndex:
    """:class:`~streams.core.SeenIndex` with a log per partition (pure: no I/O here)."""

    def __init__(self) -> None:
        self._index: dict[int, dict[str, tuple[int, int]]] = {}
        self._pending: dict[int, list[list]] = {}

    def loaded(self, partition: int) -> bool:
        return partition in self._index

    def load(self, partition: int, entries: Iterable[list]) -> None:
        index = self._index.setdefault(partition, {})
        for key, expires_ms, offset in entries:
            index.setdefault(key, (int(expires_ms), int(offset)))

    def forget(self, partition: int) -> None:
        self._index.pop(partition, None)
        self._pending.pop(partition, None)

    def add_if_absent(self, key: str, partition: int, offset: int, expires_ms: int) -> bool:
        index = self._index.setdefault(partition, {})
        known = index.get(key)
        if known is not None:
            return known[1] == offset
        index[key] = (expires_ms, offset)
        self._pending.setdefault(partition, []).append([key, expires_ms, offset])
        return True

    def drain(self) -> Iterator[tuple[int, list[list]]]:
        """Log entries (``[key, expires_ms, offset]``) added since the last drain, per partition."""
        pending, self._pending = self._pending, {}
        yield from pending.items()

    def expire(self, now_ms: int) -> int:
        """Forget entries past the late-arrival horizon; returns how many."""
        dropped = 0
        for index in self._index.values():
            old = [k for k, (expires, _) in index.items() if expires < now_ms]
            for k in old:
                del index[k]
            dropped += len(old)
        return dropped

    def __len__(self) -> int:
        return sum(len(i) for i in self._index.values())
