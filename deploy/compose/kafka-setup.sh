#!/usr/bin/env bash
# One-shot set-up of the compose site's Kafka (the kafka-setup service runs it; safe to run
# again): the SCRAM users, the topics, and the ACLs. The brokers refuse every operation no
# ACL allows (StandardAuthorizer, no allow.everyone.if.no.acl.found).
#
# Principals:
#   User:deskpulse-collector  every collector: Write and Describe on deskpulse.activity,
#                             IdempotentWrite on the cluster (its producer is idempotent).
#                             Nothing else: it cannot read any topic, touch a policy, or
#                             write spans, rollups or dead letters.
#   User:deskpulse-pipeline   stream workers, sinks and the admin CLI (policies): the
#                             deskpulse.* topics and the deskpulse-* consumer groups.
# A collector's SASL login says "a collector", not which one: which computer and person an
# event belongs to is proven by its device signature (deskpulse device enrol), which the
# stream workers check.
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP:-kafka-1:9092}"
BIN="${KAFKA_BIN:-/opt/kafka/bin}"
CONF=/tmp/kafka-setup.properties
cat > "$CONF" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${KAFKA_BROKER_PASSWORD:?}";
EOF
chmod 600 "$CONF"

for attempt in $(seq 1 60); do  # the brokers take a while to form the cluster
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONF" --list \
    >/dev/null 2>&1 && break
  [ "$attempt" -lt 60 ] || { echo "the brokers did not answer" >&2; exit 1; }
  sleep 5
done

user() {  # user NAME PASSWORD
  "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONF" --alter \
    --add-config "SCRAM-SHA-512=[password=$2]" --entity-type users --entity-name "$1"
}

topic() {  # topic NAME PARTITIONS [--config k=v ...]
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONF" --create \
    --if-not-exists --topic "$1" --partitions "$2" --replication-factor 3 "${@:3}"
}

acl() {  # acl PRINCIPAL --operation OP ... --topic|--group NAME [--resource-pattern-type prefixed] | --cluster
  "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONF" --add \
    --allow-principal "$1" "${@:2}"
}

user deskpulse-pipeline "${DESKPULSE_PIPELINE_PASSWORD:?}"
user deskpulse-collector "${DESKPULSE_COLLECTOR_PASSWORD:?}"

topic deskpulse.activity 12
topic deskpulse.spans 12
topic deskpulse.rollups 12
topic deskpulse.deadletter 12
topic deskpulse.streams.seen 12
topic deskpulse.policy.dnt 1 --config cleanup.policy=compact
topic deskpulse.policy.schedule 1 --config cleanup.policy=compact
topic deskpulse.policy.category 1 --config cleanup.policy=compact
topic deskpulse.policy.device 1 --config cleanup.policy=compact

acl User:deskpulse-collector --operation Write --operation Describe --topic deskpulse.activity
acl User:deskpulse-collector --operation IdempotentWrite --cluster

acl User:deskpulse-pipeline --operation Read --operation Write --operation Describe --topic deskpulse. --resource-pattern-type prefixed
acl User:deskpulse-pipeline --operation Read --operation Describe --group deskpulse- --resource-pattern-type prefixed
acl User:deskpulse-pipeline --operation IdempotentWrite --cluster

echo "deskpulse: users, topics and ACLs are in place"
