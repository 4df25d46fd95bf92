#!/usr/bin/env bash
# Validate the Prometheus configuration and alert rules, and run the rule unit
# tests: promtool check config, promtool check rules, promtool test rules.
#
# promtool comes from Debian's `prometheus` package. When it is missing this
# script installs it non-interactively, and makes sure the install leaves no
# Prometheus server running or enabled (a server on :9090 would collide with
# docker compose's, and the tests need nothing but the promtool binary).
#
#   bash deploy/prometheus/check.sh            # install if needed, then check
#   bash deploy/prometheus/check.sh --install  # only make sure promtool is there
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    echo "check.sh: promtool is missing and installing it needs root (or sudo)" >&2
    exit 1
  fi
}

install_promtool() {
  echo "check.sh: promtool not found; installing Debian's prometheus package" >&2
  # policy-rc.d answering 101 forbids maintainer scripts from starting services.
  # Put one in place for the install only, unless the machine already has one.
  local policy=/usr/sbin/policy-rc.d
  local placed=0
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    placed=1
  fi
  local status=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold prometheus \
    >&2 || status=$?
  if [ "$status" -ne 0 ]; then
    # A stale package index is the usual cause on a fresh machine.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold prometheus >&2
  fi
  if [ "$placed" -eq 1 ]; then
    as_root rm -f "$policy"
  fi
  # Belt and braces: whatever the init system, leave the server stopped and disabled.
  if command -v systemctl >/dev/null 2>&1; then
    # disable works without a running systemd (it removes the unit's symlinks).
    as_root systemctl disable prometheus >/dev/null 2>&1 || true
    if [ -d /run/systemd/system ]; then
      as_root systemctl stop prometheus >/dev/null 2>&1 || true
    fi
  fi
  if command -v update-rc.d >/dev/null 2>&1; then
    as_root update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
  if command -v service >/dev/null 2>&1; then
    as_root service prometheus stop >/dev/null 2>&1 || true
  fi
  command -v promtool >/dev/null 2>&1 || {
    echo "check.sh: the prometheus package installed no promtool" >&2
    exit 1
  }
}

command -v promtool >/dev/null 2>&1 || install_promtool
if [ "${1:-}" = "--install" ]; then
  exit 0
fi

cd "$HERE"
# check config also checks every file listed in rule_files (resolved relative
# to prometheus.yml); check rules names the rule files on their own.
promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules tests/*.yml
