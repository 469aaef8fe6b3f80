"""Every Kafka topic of the pipeline, in one place."""

from __future__ import annotations

from dataclasses import dataclass

ACTIVITY = "deskpulse.activity"
SPANS = "deskpulse.spans"
ROLLUPS = "deskpulse.rollups"
DEADLETTER = "deskpulse.deadletter"
POLICY_DNT = "deskpulse.policy.dnt"
POLICY_SCHEDULE = "deskpulse.policy.schedule"
POLICY_CATEGORY = "deskpulse.policy.category"
#: device authentication: per-tenant modes, revoked device credentials
POLICY_DEVICE = "deskpulse.policy.device"
#: the stream workers' dedup log: which (tenant, user, host, event_id) each partition has seen
STREAMS_SEEN = "deskpulse.streams.seen"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compacted: bool = False
    #: policy topics have one partition so that their order is total
    single_partition: bool = False


ALL_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(ACTIVITY),
    TopicSpec(SPANS),
    TopicSpec(ROLLUPS),
    TopicSpec(DEADLETTER),
    TopicSpec(POLICY_DNT, compacted=True, single_partition=True),
    TopicSpec(POLICY_SCHEDULE, compacted=True, single_partition=True),
    TopicSpec(POLICY_CATEGORY, compacted=True, single_partition=True),
    TopicSpec(POLICY_DEVICE, compacted=True, single_partition=True),
    TopicSpec(STREAMS_SEEN),
)


#: what a collector's Kafka principal may write (ACLs: Write and Describe); every other topic
#: belongs to the pipeline's principal (deploy/README.md, "Kafka principals and ACLs")
COLLECTOR_TOPICS: tuple[str, ...] = (ACTIVITY,)


def message_key(tenant: str, user: str) -> bytes:
    """The key of an activity message: ``<tenant>/<user>`` in UTF-8."""
    return f"{tenant}/{user}".encode()
