#!/usr/bin/env bash
# Single-node Apache Kafka 4.x in KRaft mode, no Docker: jars from Maven Central,
# started with Java 17 on 127.0.0.1. Every command is idempotent.
#
#   infra/kafka/kafka.sh fetch | up | down | status
#
# KAFKA_PORT (default 9092) and KAFKA_HOME (default .local/kafka-$KAFKA_PORT)
# let tests run their own broker beside `make run`'s.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
LIBS="${KAFKA_LIBS:-$ROOT/.local/kafka-libs}"
HOME_DIR="${KAFKA_HOME:-$ROOT/.local/kafka-$PORT}"
PID_FILE="$HOME_DIR/kafka.pid"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

log() { echo "[kafka:$PORT] $*" >&2; }

pom_digest() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }

fetch() {
  # .complete records the pom.xml it was fetched for: a changed pom fetches again.
  if [ "$(cat "$LIBS/.complete" 2>/dev/null)" = "$(pom_digest)" ]; then return 0; fi
  command -v java >/dev/null || { log "java 17 is required"; exit 1; }
  if ! command -v mvn >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "installing Maven from Debian's packages"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
    else
      log "maven is required (apt-get install maven)"; exit 1
    fi
  fi
  log "fetching the broker from Maven Central into $LIBS"
  rm -rf "$LIBS"
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS"
  pom_digest > "$LIBS/.complete"
}

running() {
  [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

answers() {
  # The broker answers when a TCP connection to its listener succeeds and a
  # metadata request through the Python admin client returns.
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

java_cmd() {
  JAVA=(java -Xms256m -Xmx512m -XX:+UseG1GC \
    -Dkafka.logs.dir="$HOME_DIR/logs" \
    -Dlog4j2.configurationFile="$HERE/log4j2.yaml" \
    -cp "$LIBS/*")
}

write_config() {
  mkdir -p "$HOME_DIR/logs" "$HOME_DIR/data"
  cat > "$HOME_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$HOME_DIR/data
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created explicitly (python -m fooddelivery_ops topics); a typo must not create one.
auto.create.topics.enable=false
# Few threads on a small box: each idle request handler wakes every 300 ms, each
# network thread too (defaults 8 and 3, per listener); two handlers and one network
# thread keep up with the whole system's load. The controller's no-op record (for
# observers' lag, none in a single node) every 5 s, not every 500 ms: each is a
# metadata-log append, flush and replay. Idle 28 -> 17 CPU ms/s, per produce/fetch
# round trip ~10% less (bench/broker_ab.py).
num.network.threads=1
num.io.threads=2
metadata.max.idle.interval.ms=5000
PROPS
}

up() {
  fetch
  if running; then log "already running (pid $(cat "$PID_FILE"))"; wait_ready; return 0; fi
  write_config
  java_cmd
  if [ ! -f "$HOME_DIR/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$("${JAVA[@]}" kafka.tools.StorageTool random-uuid)"
    "${JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$HOME_DIR/server.properties" >/dev/null
  fi
  log "starting (data in $HOME_DIR)"
  # Started directly so $! is the JVM itself and `down` signals the broker.
  "${JAVA[@]}" kafka.Kafka "$HOME_DIR/server.properties" >"$HOME_DIR/logs/stdout.log" 2>&1 &
  echo $! > "$PID_FILE"
  wait_ready
}

wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT))
  until answers; do
    if ! running; then log "broker exited; see $HOME_DIR/logs/"; tail -20 "$HOME_DIR/logs/stdout.log" >&2 || true; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "no answer after ${START_TIMEOUT}s"; exit 1; fi
    sleep 0.5
  done
  log "ready on 127.0.0.1:$PORT"
}

down() {
  if ! running; then rm -f "$PID_FILE"; log "not running"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.3
  done
  rm -f "$PID_FILE"
}

status() { if running; then echo "running (pid $(cat "$PID_FILE")) on 127.0.0.1:$PORT"; else echo "stopped"; exit 1; fi; }

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 fetch|up|down|status" >&2; exit 2 ;;
esac
