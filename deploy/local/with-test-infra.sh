#!/usr/bin/env bash
# Runs a command (the test suite) against a throwaway Kafka and PostgreSQL.
#
# Both start fresh on test ports (KAFKA_PORT, PG_PORT) so they never collide
# with `make run`, their addresses are handed to the command through
# SWITCHBOARD_TEST_KAFKA_BOOTSTRAP and SWITCHBOARD_TEST_DATABASE_URL, and both
# are stopped and deleted afterwards whatever the command's outcome.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

export KAFKA_PORT="${KAFKA_PORT:-19092}"
export PG_PORT="${PG_PORT:-54329}"
export KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$repo/.run/test-kafka-$KAFKA_PORT}"
export PG_DATA_NAME="test-postgres-$PG_PORT"  # postgres.sh puts it where its user can reach

cleanup() {
  local status=$?
  bash "$here/kafka.sh" clean >&2 || true
  bash "$here/postgres.sh" clean >&2 || true
  exit "$status"
}
trap cleanup EXIT INT TERM

# Leftovers of an interrupted run would make tests see old topics and rows.
bash "$here/kafka.sh" clean >&2 || true
bash "$here/postgres.sh" clean >&2 || true

bootstrap="$(bash "$here/kafka.sh" start | tail -n 1)"
pg_url="$(bash "$here/postgres.sh" start | tail -n 1)"
export SWITCHBOARD_TEST_KAFKA_BOOTSTRAP="$bootstrap"
export SWITCHBOARD_TEST_DATABASE_URL="${pg_url/postgresql:/postgresql+psycopg:}"
echo "test infrastructure: kafka=$SWITCHBOARD_TEST_KAFKA_BOOTSTRAP postgres=$SWITCHBOARD_TEST_DATABASE_URL" >&2

"$@"
