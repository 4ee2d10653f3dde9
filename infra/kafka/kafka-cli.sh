#!/usr/bin/env bash
# Kafka's own command-line tools (the jars kafka.sh fetches) against the embedded broker:
#
#   infra/kafka/kafka-cli.sh consumer-groups --describe --all-groups
#   infra/kafka/kafka-cli.sh topics --describe
#   make kafka-cli ARGS="consumer-groups --list"
#
# --bootstrap-server 127.0.0.1:$KAFKA_PORT is added unless given. The names are those
# of Kafka's bin/kafka-<name>.sh scripts; `infra/kafka/kafka-cli.sh` alone lists them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PORT="${KAFKA_PORT:-9092}"
LIBS="${KAFKA_LIBS:-$ROOT/.local/kafka-libs}"

# Class names as they stand in kafka-tools / kafka_2.13 of the version in pom.xml.
declare -A TOOLS=(
  [acls]=org.apache.kafka.tools.AclCommand
  [broker-api-versions]=org.apache.kafka.tools.BrokerApiVersionsCommand
  [configs]=kafka.admin.ConfigCommand
  [console-consumer]=org.apache.kafka.tools.consumer.ConsoleConsumer
  [console-producer]=org.apache.kafka.tools.ConsoleProducer
  [consumer-groups]=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
  [delete-records]=org.apache.kafka.tools.DeleteRecordsCommand
  [features]=org.apache.kafka.tools.FeatureCommand
  [get-offsets]=org.apache.kafka.tools.GetOffsetShell
  [leader-election]=org.apache.kafka.tools.LeaderElectionCommand
  [log-dirs]=org.apache.kafka.tools.LogDirsCommand
  [metadata-quorum]=org.apache.kafka.tools.MetadataQuorumCommand
  [reassign-partitions]=org.apache.kafka.tools.reassign.ReassignPartitionsCommand
  [topics]=org.apache.kafka.tools.TopicCommand
)

usage() {
  echo "usage: $0 <tool> [args...]; tools: $(printf '%s\n' "${!TOOLS[@]}" | sort | xargs)" >&2
  exit 2
}

[ $# -ge 1 ] || usage
tool="$1"; shift
class="${TOOLS[$tool]:-}"
[ -n "$class" ] || usage

"$HERE/kafka.sh" fetch
args=("$@")
case " ${args[*]-} " in
  *" --bootstrap-server "*|*" --bootstrap-server="*) ;;
  *) args=(--bootstrap-server "127.0.0.1:$PORT" "${args[@]}") ;;
esac
exec java -Xms64m -Xmx256m -Dlog4j2.configurationFile="$HERE/log4j2-tools.yaml" \
  -cp "$LIBS/*" "$class" "${args[@]}"
