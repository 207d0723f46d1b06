#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on a Unix socket (no TCP) so that the
# storage contract tests run against PostgreSQL too. Prints the SQLAlchemy URL
# on stdout; `scripts/ci-postgres.sh stop DIR` stops it. Needs root and apt-get.
set -euo pipefail
if [ "${1:-}" = stop ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  su postgres -s /bin/sh -c "$bin/pg_ctl -D '$2/data' -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$2"
  exit 0
fi
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || exit 1
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/deepguard-pg.XXXXXX)
chown postgres "$dir"
su postgres -s /bin/sh -c "$bin/initdb -D '$dir/data' -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -l '$dir/log' -w \
  -o \"-k $dir -c listen_addresses=''\" start" >/dev/null
su postgres -s /bin/sh -c "$bin/createdb -h '$dir' deepguard_test"
echo "$dir postgresql+psycopg://postgres@/deepguard_test?host=$dir"
