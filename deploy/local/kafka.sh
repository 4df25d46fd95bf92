#!/usr/bin/env bash
# deploy/local/kafka.sh: a throwaway single-node Apache Kafka broker for local
# development and tests, without Docker.
#
# Owns:
#   - the broker classpath, fetched from Maven Central with the pom in
#     deploy/local/kafka/pom.xml into
#     ${SWITCHBOARD_CACHE_DIR:-<repo>/.cache}/kafka-<version>/lib
#   - one broker per port: a combined broker+controller (KRaft, static quorum)
#     bound to 127.0.0.1 only, with all its state (server.properties, log dirs,
#     pid file, kafka.log) in ${KAFKA_DATA_DIR:-<repo>/.run/kafka-$KAFKA_PORT}.
# Why: Switchboard's services and tests need a real Kafka; this gives one from
# the JDK + Maven alone, several can run side by side on different ports, and
# every sub-command is idempotent so Makefiles and test harnesses can call it
# blindly.
#
#   - a secured mode (KAFKA_SECURITY=sasl_ssl): the client listener speaks
#     SASL_SSL with SCRAM-SHA-512 only, its certificate signed by a throwaway
#     CA generated with openssl into $KAFKA_TLS_DIR (clients trust ca.crt),
#     and the SCRAM users of KAFKA_SCRAM_USERS created when storage is
#     formatted. It is how tests run the stack the way production runs it.
#
# Usage: kafka.sh fetch|start|stop|status|kill|clean|bootstrap
# Messages go to stderr. `start` and `bootstrap` print the bootstrap address
# (127.0.0.1:$KAFKA_PORT) as the last line of stdout.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/kafka/log4j2.properties"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The pom is the single source of truth for the version.
KAFKA_VERSION="$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$POM" | head -n1)"
[[ -n "$KAFKA_VERSION" ]] || die "cannot read <kafka.version> from $POM"

CACHE_ROOT="${SWITCHBOARD_CACHE_DIR:-$REPO_ROOT/.cache}"
CACHE="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIB="$CACHE/lib"
FETCH_MARKER="$CACHE/.fetched"

KAFKA_PORT="${KAFKA_PORT:-9092}"
[[ "$KAFKA_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_PORT must be a number, got '$KAFKA_PORT'"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
[[ "$KAFKA_CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_CONTROLLER_PORT must be a number"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$REPO_ROOT/.run/kafka-$KAFKA_PORT}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_NUM_PARTITIONS="${KAFKA_NUM_PARTITIONS:-3}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_SECURITY="${KAFKA_SECURITY:-plaintext}"
[[ "$KAFKA_SECURITY" == plaintext || "$KAFKA_SECURITY" == sasl_ssl ]] \
    || die "KAFKA_SECURITY must be plaintext or sasl_ssl, got '$KAFKA_SECURITY'"
KAFKA_TLS_DIR="${KAFKA_TLS_DIR:-$KAFKA_DATA_DIR/tls}"
# name=password pairs, comma-separated; created when storage is first formatted.
KAFKA_SCRAM_USERS="${KAFKA_SCRAM_USERS:-switchboard=switchboard-local-secret}"

PID_FILE="$KAFKA_DATA_DIR/kafka.pid"
LOG_FILE="$KAFKA_DATA_DIR/kafka.log"
PROPS="$KAFKA_DATA_DIR/server.properties"
LOG_DIRS="$KAFKA_DATA_DIR/data"

# A fingerprint of the pom so that editing it triggers a re-fetch.
pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

is_fetched() {
    [[ -f "$FETCH_MARKER" ]] && [[ "$(cat "$FETCH_MARKER")" == "$(pom_hash)" ]] \
        && compgen -G "$LIB/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null
}

cmd_fetch() {
    if is_fetched; then
        log "Kafka $KAFKA_VERSION already fetched in $LIB"
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Kafka jars)"
    mkdir -p "$CACHE"
    # Serialise concurrent fetches (e.g. two brokers started in parallel).
    (
        flock 9
        if is_fetched; then log "Kafka $KAFKA_VERSION fetched by a concurrent run"; exit 0; fi
        log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIB ..."
        rm -rf "$LIB" "$FETCH_MARKER"
        # (Maven 3.8 prints stray ESC[0m codes even with -q -B; strip them.)
        if ! mvn -B -q -f "$POM" \
                dependency:copy-dependencies -DincludeScope=runtime \
                -DoutputDirectory="$LIB" </dev/null 2>&1 \
                | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
            rm -rf "$LIB"
            die "mvn dependency:copy-dependencies failed"
        fi
        pom_hash >"$FETCH_MARKER"
        log "fetched $(find "$LIB" -name '*.jar' | wc -l) jars"
    ) 9>"$CACHE/.fetch.lock"
}

# Prints the pid if the pid file points at our live broker, else returns 1.
running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against pid reuse: the process must be our kafka.Kafka on this config.
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *kafka.Kafka*"$PROPS"* ]] || return 1
    echo "$pid"
}

port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# A throwaway CA and a broker certificate for 127.0.0.1 and localhost, made
# once per TLS dir. Keys are unencrypted PKCS#8 PEM (what Kafka's PEM store
# reads); they never leave the machine and go with `clean`.
ensure_certificates() {
    if [[ -s "$KAFKA_TLS_DIR/broker.pem" && -s "$KAFKA_TLS_DIR/ca.crt" ]]; then
        return 0
    fi
    command -v openssl >/dev/null || die "openssl not found (needed for KAFKA_SECURITY=sasl_ssl)"
    mkdir -p "$KAFKA_TLS_DIR"
    chmod 700 "$KAFKA_TLS_DIR"
    log "generating a throwaway CA and broker certificate in $KAFKA_TLS_DIR"
    (
        cd "$KAFKA_TLS_DIR"
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout ca.key -out ca.crt \
            -subj "/CN=switchboard-local-ca" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr \
            -subj "/CN=localhost" 2>/dev/null
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth,clientAuth" >broker.ext
        openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile broker.ext -out broker.crt 2>/dev/null
        cat broker.key broker.crt >broker.pem
        rm -f broker.csr broker.ext ca.srl
        chmod 600 ca.key broker.key broker.pem
    ) || die "openssl could not generate the certificates in $KAFKA_TLS_DIR"
}

# The broker's own SCRAM user (inter-broker traffic on the SASL_SSL listener):
# a random password kept beside the data, made once with the storage.
admin_password() {
    local file="$KAFKA_DATA_DIR/admin.password"
    if [[ ! -s "$file" ]]; then
        (umask 077; openssl rand -hex 24 >"$file")
    fi
    cat "$file"
}

# --add-scram arguments for StorageTool format: the broker's admin plus KAFKA_SCRAM_USERS.
scram_arguments() {
    SCRAM_ARGS=(--add-scram "SCRAM-SHA-512=[name=admin,password=$(admin_password)]")
    local pair name password pairs
    IFS=',' read -ra pairs <<<"$KAFKA_SCRAM_USERS"
    for pair in "${pairs[@]}"; do
        name="${pair%%=*}"
        password="${pair#*=}"
        [[ "$pair" == *=* && "$name" =~ ^[A-Za-z0-9._-]+$ && "$password" =~ ^[A-Za-z0-9._-]+$ ]] \
            || die "KAFKA_SCRAM_USERS must be name=password pairs of letters, digits, '.', '_' or '-'"
        SCRAM_ARGS+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$password]")
    done
}

listener_properties() {
    if [[ "$KAFKA_SECURITY" == plaintext ]]; then
        cat <<PROPERTIES
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
PROPERTIES
        return 0
    fi
    # The one listener clients can reach is SASL_SSL; the broker talks to
    # itself there too, as `admin`. The controller stays PLAINTEXT on loopback
    # (only this JVM uses it).
    cat <<PROPERTIES
listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(admin_password)";
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_TLS_DIR/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_TLS_DIR/ca.crt
ssl.client.auth=none
PROPERTIES
}

write_properties() {
    (umask 077; : >"$PROPS")  # it may hold the broker's own SCRAM password
    cat >"$PROPS" <<EOF
# Generated by deploy/local/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
$(listener_properties)
controller.listener.names=CONTROLLER
log.dirs=$LOG_DIRS

# Single node: every internal topic has replication factor 1 / min ISR 1.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Fast consumer-group joins in tests; topics must be created explicitly.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=$KAFKA_NUM_PARTITIONS

# On restart the controller replays the previous broker incarnation and
# rejects the new registration (DUPLICATE_BROKER_REGISTRATION) until that
# session expires: 9 s by default, which made every restart take ~14 s.
# Shorter heartbeats/session keep restarts at a few seconds; fine on loopback.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
EOF
}

java_opts() {
    JAVA_OPTS=(
        "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP"
        -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
        -XX:MaxInlineLevel=15 -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG"
        "-Dkafka.logs.dir=$KAFKA_DATA_DIR"
    )
}

format_storage() {
    if [[ -f "$LOG_DIRS/meta.properties" ]]; then
        return 0
    fi
    local cluster_id
    if [[ -s "$KAFKA_DATA_DIR/cluster.id" ]]; then
        cluster_id="$(cat "$KAFKA_DATA_DIR/cluster.id")"
    else
        cluster_id="$(java -cp "$LIB/*" "-Dlog4j2.configurationFile=$LOG4J_CONFIG" \
            kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
        [[ -n "$cluster_id" ]] || die "StorageTool random-uuid returned nothing"
        echo "$cluster_id" >"$KAFKA_DATA_DIR/cluster.id"
    fi
    SCRAM_ARGS=()
    if [[ "$KAFKA_SECURITY" == sasl_ssl ]]; then
        scram_arguments
    fi
    log "formatting storage in $LOG_DIRS (cluster id $cluster_id)"
    java -cp "$LIB/*" "-Dlog4j2.configurationFile=$LOG4J_CONFIG" \
        kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" --ignore-formatted \
        "${SCRAM_ARGS[@]}" >&2 \
        || die "StorageTool format failed"
}

tail_log() {
    if [[ -f "$LOG_FILE" ]]; then
        log "last 40 lines of $LOG_FILE:"
        tail -n 40 "$LOG_FILE" >&2
    fi
}

cmd_start() {
    local pid
    if pid="$(running_pid)"; then
        log "already running on 127.0.0.1:$KAFKA_PORT (pid $pid, data $KAFKA_DATA_DIR)"
        echo "127.0.0.1:$KAFKA_PORT"
        return 0
    fi
    rm -f "$PID_FILE"
    command -v java >/dev/null || die "java not found (need a JDK/JRE 17+)"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        if port_open "$p"; then
            die "port 127.0.0.1:$p is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
        fi
    done
    cmd_fetch
    mkdir -p "$KAFKA_DATA_DIR" "$LOG_DIRS"
    if [[ "$KAFKA_SECURITY" == sasl_ssl ]]; then
        ensure_certificates
    fi
    write_properties
    format_storage
    java_opts

    # Keep the previous run's log for post-mortems; the readiness check greps a fresh one.
    if [[ -f "$LOG_FILE" ]]; then mv -f "$LOG_FILE" "$LOG_FILE.prev"; fi
    local started=$SECONDS
    log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT, heap $KAFKA_HEAP, data $KAFKA_DATA_DIR)"
    # setsid + nohup: own session, survives the calling shell; all stdio is
    # detached so a caller capturing our output is not kept waiting by the JVM.
    # The launcher writes its own pid then execs java, so the pid file is the
    # JVM's pid whether or not setsid had to fork.
    cd "$KAFKA_DATA_DIR"
    nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-launch "$PID_FILE" \
        java "${JAVA_OPTS[@]}" -cp "$LIB/*" kafka.Kafka "$PROPS" \
        </dev/null >>"$LOG_FILE" 2>&1 &
    local launcher=$!
    disown 2>/dev/null || true

    local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    pid=""
    while ((SECONDS < deadline)); do
        if [[ -z "$pid" && -s "$PID_FILE" ]]; then
            pid="$(cat "$PID_FILE")"
        fi
        if [[ -z "$pid" ]] && ! kill -0 "$launcher" 2>/dev/null && [[ ! -s "$PID_FILE" ]]; then
            tail_log
            die "the broker launcher exited before writing $PID_FILE"
        fi
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            tail_log
            die "the broker JVM exited during startup (see $LOG_FILE)"
        fi
        if [[ -n "$pid" ]] && grep -q 'Kafka Server started' "$LOG_FILE" 2>/dev/null \
                && port_open "$KAFKA_PORT"; then
            log "ready on 127.0.0.1:$KAFKA_PORT after $((SECONDS - started))s (pid $pid)"
            echo "127.0.0.1:$KAFKA_PORT"
            return 0
        fi
        sleep 0.5
    done
    tail_log
    if [[ -n "$pid" ]]; then
        log "killing the broker that did not become ready (pid $pid)"
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$PID_FILE"
    fi
    die "broker not ready within ${KAFKA_START_TIMEOUT}s (KAFKA_START_TIMEOUT)"
}

wait_gone() { # pid timeout_seconds
    local deadline=$((SECONDS + $2))
    while kill -0 "$1" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

broker_pid() { # the running broker's pid; none: says so, forgets a stale pid file and fails
    running_pid && return 0
    log "not running (port $KAFKA_PORT, data $KAFKA_DATA_DIR)"
    rm -f "$PID_FILE"
    return 1
}

kill_hard() { # pid
    kill -KILL "$1" 2>/dev/null || true
    wait_gone "$1" 10 || die "pid $1 survived SIGKILL"
}

cmd_stop() {
    local pid
    pid="$(broker_pid)" || return 0
    log "stopping broker on port $KAFKA_PORT (pid $pid) ..."
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$KAFKA_STOP_TIMEOUT"; then
        log "still alive after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
        kill_hard "$pid"
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_kill() {
    local pid
    pid="$(broker_pid)" || return 0
    log "SIGKILL broker on port $KAFKA_PORT (pid $pid)"
    kill_hard "$pid"
    rm -f "$PID_FILE"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        log "running on 127.0.0.1:$KAFKA_PORT (pid $pid, data $KAFKA_DATA_DIR)"
        return 0
    fi
    log "not running (port $KAFKA_PORT, data $KAFKA_DATA_DIR)"
    return 1
}

cmd_clean() {
    cmd_stop
    if [[ -d "$KAFKA_DATA_DIR" ]]; then
        rm -rf "$KAFKA_DATA_DIR"
        log "removed $KAFKA_DATA_DIR"
    fi
}

usage() {
    cat >&2 <<EOF
usage: $(basename "$0") fetch|start|stop|status|kill|clean|bootstrap
  env: KAFKA_PORT (9092) KAFKA_CONTROLLER_PORT (KAFKA_PORT+1) KAFKA_DATA_DIR
       KAFKA_HEAP (512m) KAFKA_NUM_PARTITIONS (3) KAFKA_START_TIMEOUT (90)
       KAFKA_STOP_TIMEOUT (30) SWITCHBOARD_CACHE_DIR (<repo>/.cache)
       KAFKA_SECURITY (plaintext|sasl_ssl) KAFKA_TLS_DIR (KAFKA_DATA_DIR/tls)
       KAFKA_SCRAM_USERS (switchboard=switchboard-local-secret; sasl_ssl only)
EOF
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    kill) cmd_kill ;;
    clean) cmd_clean ;;
    bootstrap) echo "127.0.0.1:$KAFKA_PORT" ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
esac
