#!/usr/bin/env bash
# `make run`: Kafka, the five services, the platform stand-in and a demo feed on this machine.
#
# Kafka runs from Maven Central's jars (kafka.sh); the router keeps its queues
# in SQLite under .run/ unless SWITCHBOARD_DATABASE_URL says otherwise, and the
# responder its send ledger in the same database (a table of its own). The
# responder posts replies to the local stand-in of X, Mastodon and Meta
# (switchboard_standins), never to a real platform; the notifier pages the
# stand-in's webhook, PagerDuty and SMS endpoints and its SMTP server, never a person.
# Ctrl-C stops the feed, the services and the broker, in that order.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
bin="$repo/.venv/bin"
logs="$repo/.run/logs"
mkdir -p "$logs"

export KAFKA_PORT="${KAFKA_PORT:-9092}"
export SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS="${SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
export SWITCHBOARD_DATABASE_URL="${SWITCHBOARD_DATABASE_URL:-sqlite:///$repo/.run/switchboard-router.db}"
ingest_port="${SWITCHBOARD_INGEST_PORT:-8001}"
classifier_port="${SWITCHBOARD_CLASSIFIER_PORT:-8002}"
router_port="${SWITCHBOARD_ROUTER_PORT:-8003}"
responder_port="${SWITCHBOARD_RESPONDER_PORT:-8004}"
notifier_port="${SWITCHBOARD_NOTIFIER_PORT:-8005}"
standin_port="${SWITCHBOARD_STANDIN_PORT:-8090}"  # the platform stand-in
smtp_port="${SWITCHBOARD_STANDIN_SMTP_PORT:-8025}"  # the stand-in's SMTP server
demo_rate="${SWITCHBOARD_DEMO_RATE:-2}"

pids=()
stopping=0
kafka_started=0  # a run that stops before starting its broker must not stop someone else's
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  echo >&2
  echo "run.sh: stopping the demo feed and the services ..." >&2
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$kafka_started" = 1 ]; then bash "$here/kafka.sh" stop >&2 || true; fi
  echo "run.sh: everything stopped. Logs are in $logs" >&2
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

for port in "$ingest_port" "$classifier_port" "$router_port" "$responder_port" "$notifier_port" "$standin_port" "$smtp_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run.sh: port $port is already in use; stop what holds it or set SWITCHBOARD_*_PORT" >&2
    exit 1
  fi
done

# The demo's credentials: one ingest API key allowed for every source, kept
# across runs. Only its hash goes to the key file ingest reads.
credentials="$repo/.run/switchboard.env"
keys_file="$repo/.run/ingest-api-keys.json"
api_key="$(sed -n 's/^SWITCHBOARD_INGEST_API_KEY=//p' "$credentials" 2>/dev/null || true)"
admin_token="$(sed -n 's/^SWITCHBOARD_ADMIN_TOKEN=//p' "$credentials" 2>/dev/null || true)"
if [ -z "$admin_token" ]; then
  admin_token="$("$bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))')"
fi
if [ -z "$api_key" ] || [ ! -s "$keys_file" ]; then
  minted="$("$bin/switchboard" new-api-key demo '*')"
  api_key="$(printf '%s' "$minted" | "$bin/python" -c 'import json, sys; print(json.load(sys.stdin)["key"])')"
  printf '%s' "$minted" | "$bin/python" -c 'import json, sys; print(json.dumps([json.load(sys.stdin)["key_file_entry"]]))' >"$keys_file"
fi
export SWITCHBOARD_INGEST_API_KEYS_FILE="$keys_file"
export SWITCHBOARD_INGEST_API_KEY="$api_key"
export SWITCHBOARD_ROUTER_BOOTSTRAP_ADMIN_TOKEN="$admin_token"
# The API docs are off unless asked for (a map of every door); a developer's
# machine asks. /metrics stays on the API ports here, open, as in development.
export SWITCHBOARD_INGEST_API_DOCS="${SWITCHBOARD_INGEST_API_DOCS:-true}"
export SWITCHBOARD_ROUTER_API_DOCS="${SWITCHBOARD_ROUTER_API_DOCS:-true}"
cat >"$credentials" <<ENV
SWITCHBOARD_INGEST_URL=http://127.0.0.1:$ingest_port
SWITCHBOARD_INGEST_API_KEY=$api_key
SWITCHBOARD_ADMIN_TOKEN=$admin_token
SWITCHBOARD_CLASSIFIER_URL=http://127.0.0.1:$classifier_port
SWITCHBOARD_ROUTER_URL=http://127.0.0.1:$router_port
SWITCHBOARD_RESPONDER_URL=http://127.0.0.1:$responder_port
SWITCHBOARD_STANDIN_URL=http://127.0.0.1:$standin_port
SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS=$SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS
ENV
chmod 600 "$credentials"

kafka_started=1
bash "$here/kafka.sh" start >/dev/null

start() {  # start NAME MODULE [ARGS...]: run a service in the background, logging to .run/logs/NAME.log
  local name="$1" module="$2"
  shift 2
  "$bin/python" -m "$module" "$@" >"$logs/$name.log" 2>&1 &
  pids+=($!)
}
# The responder's channels all point at the stand-in, with the stand-in's own
# default tokens: nothing here is a real credential or a real platform.
standin_url="http://127.0.0.1:$standin_port"
export SWITCHBOARD_RESPONDER_PORT="$responder_port"
if [ -z "${SWITCHBOARD_RESPONDER_CHANNELS:-}" ]; then
  SWITCHBOARD_RESPONDER_CHANNELS="$("$bin/python" - "$standin_url" <<'PY'
import json, sys
url = sys.argv[1]
print(json.dumps({
    "x": {"base_url": url, "token": "standin-x-token"},
    "mastodon": {"base_url": url, "token": "standin-mastodon-token", "max_chars": 500},
    "facebook": {"base_url": url, "token": "standin-meta-token"},
}))
PY
)"
fi
export SWITCHBOARD_RESPONDER_CHANNELS
# The notifier's policy points every channel at the stand-in (its own secrets too).
export SWITCHBOARD_NOTIFIER_PORT="$notifier_port"
export SWITCHBOARD_NOTIFIER_WEBHOOK_SECRET="${SWITCHBOARD_NOTIFIER_WEBHOOK_SECRET:-standin-webhook-secret}"
export SWITCHBOARD_NOTIFIER_SMS_TOKEN="${SWITCHBOARD_NOTIFIER_SMS_TOKEN:-standin-sms-token}"
export SWITCHBOARD_NOTIFIER_LINK_BASE_URL="http://127.0.0.1:$router_port/console"
if [ -z "${SWITCHBOARD_NOTIFIER_POLICY_PATH:-}" ]; then
  SWITCHBOARD_NOTIFIER_POLICY_PATH="$repo/.run/notification.yaml"
  sed -e "s#http://127.0.0.1:8090#$standin_url#g" -e "s#port: 8025#port: $smtp_port#" \
    services/notifier/src/switchboard_notifier/notification.yaml >"$SWITCHBOARD_NOTIFIER_POLICY_PATH"
fi
export SWITCHBOARD_NOTIFIER_POLICY_PATH
start ingest switchboard_ingest
start classifier switchboard_classifier
start router switchboard_router
start standin switchboard_standins --port "$standin_port" --smtp-port "$smtp_port" \
  --webhook-secret "$SWITCHBOARD_NOTIFIER_WEBHOOK_SECRET" --sms-token "$SWITCHBOARD_NOTIFIER_SMS_TOKEN"
start responder switchboard_responder
start notifier switchboard_notifier

wait_ready() {  # wait_ready NAME URL
  local deadline=$((SECONDS + 120))
  until "$bin/python" -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('$2', timeout=2).status == 200 else 1)" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      echo "run.sh: $1 not ready at $2 after 120s; last log lines:" >&2
      tail -n 30 "$logs/$1.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "run.sh: $1 ready" >&2
}
wait_ready ingest "http://127.0.0.1:$ingest_port/readyz"
wait_ready classifier "http://127.0.0.1:$classifier_port/readyz"
wait_ready router "http://127.0.0.1:$router_port/readyz"
wait_ready standin "$standin_url/_standin/posts"
wait_ready responder "http://127.0.0.1:$responder_port/readyz"
wait_ready notifier "http://127.0.0.1:$notifier_port/readyz"

"$bin/switchboard" demo --url "http://127.0.0.1:$ingest_port" --rate "$demo_rate" >"$logs/demo.log" 2>&1 &
pids+=($!)
# A demo desk answers the feed's questions and thanks through the router's API, so the
# stand-in gets posts and the response-time report has figures within a minute or two.
SWITCHBOARD_ADMIN_TOKEN="$admin_token" "$bin/switchboard" demo-answers \
  --router "http://127.0.0.1:$router_port" >"$logs/demo-answers.log" 2>&1 &
pids+=($!)

cat <<TXT

Switchboard is running (Ctrl-C stops everything).

  Ingest API docs      http://127.0.0.1:$ingest_port/docs
  Router API docs      http://127.0.0.1:$router_port/docs
  Queues               curl -H "Authorization: Bearer $admin_token" http://127.0.0.1:$router_port/v1/queues
  Emergency queue      curl -H "Authorization: Bearer $admin_token" http://127.0.0.1:$router_port/v1/queues/emergency/items
  Console              http://127.0.0.1:$router_port/console/  (sign in with the admin token above)
  Metrics              curl http://127.0.0.1:{$ingest_port,$classifier_port,$router_port,$responder_port,$notifier_port}/metrics
  Replies posted       curl $standin_url/_standin/posts  (the X, Mastodon and Meta stand-in)
  Pages sent           curl $standin_url/_standin/notify/deliveries  (webhook, PagerDuty, SMS and SMTP stand-ins)
  Response times       curl -H "Authorization: Bearer $admin_token" http://127.0.0.1:$router_port/v1/reports/response-times
  Make it misbehave    curl -X POST $standin_url/_standin/faults -d '{"kind": "429", "platform": "x", "seconds": 30}'
  Post a mention       echo '{"source":"app","source_id":"1","text":"Shots fired at 5th and Main","created_at":"2026-11-29T22:00:00Z"}' | $bin/switchboard send -
                       (the ingest API wants the key: Authorization: Bearer \$SWITCHBOARD_INGEST_API_KEY)
  Kafka                $SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS
  Store                $SWITCHBOARD_DATABASE_URL
  Credentials          $credentials (source it: set -a; . $credentials; set +a)
  Logs                 $logs/{ingest,classifier,router,standin,responder,notifier,demo,demo-answers}.log
  Demo feed            $demo_rate mentions/s (SWITCHBOARD_DEMO_RATE)

TXT

# Stay up until Ctrl-C, or until a service dies (then say which, and stop).
while true; do
  for i in 0 1 2 3 4 5; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      name=(ingest classifier router standin responder notifier)
      echo "run.sh: ${name[$i]} exited; last log lines:" >&2
      tail -n 30 "$logs/${name[$i]}.log" >&2
      exit 1
    fi
  done
  sleep 2
done
