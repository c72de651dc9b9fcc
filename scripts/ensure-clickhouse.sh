#!/usr/bin/env bash
# Makes sure a ClickHouse server binary is available: `clickhouse-server`
# (Debian's package, 18.16) or the single `clickhouse` binary of current
# releases. Installs Debian's package when run as root with apt-get;
# otherwise says what to install and fails.
set -euo pipefail

if command -v clickhouse-server >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ClickHouse is not installed; installing Debian's clickhouse-server package (about a minute)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
  # The package's own service is not needed: Switchyard starts private
  # servers with their own config and data directory.
  command -v clickhouse-server >/dev/null 2>&1 && exit 0
  echo "error: installing clickhouse-server did not provide the clickhouse-server binary" >&2
  exit 1
fi

cat >&2 <<'MSG'
error: ClickHouse is not installed, and it can't be installed automatically here
(that needs root and apt-get).

Install it, then run the command again:
  Debian/Ubuntu:  sudo apt-get install clickhouse-server
  other systems:  https://clickhouse.com/docs/en/install  (the single `clickhouse` binary works too)
MSG
exit 1
