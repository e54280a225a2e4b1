#!/bin/bash
# PostgreSQL in a container: initdb on first start (superuser password from POSTGRES_PASSWORD,
# password logins from the project network), then the server as PID 1's child (compose runs
# `init: true`). A throwaway cluster: durability settings off, like the local platform's.
set -euo pipefail
data=/var/lib/postgresql/data
if [ ! -s "$data/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}" > "$pwfile"
  initdb -D "$data" -U postgres -E UTF8 --locale=C --auth-host=scram-sha-256 \
         --auth-local=trust --no-sync --pwfile="$pwfile" > /dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$data/pg_hba.conf"
  # Databases to create at first start (a compose file run by hand has no orchestrator to do it).
  if [ -s /docker-entrypoint-initdb.d/init.sql ]; then
    pg_ctl -D "$data" -o "-c listen_addresses=''" -w start > /dev/null
    psql -v ON_ERROR_STOP=1 -q -U postgres -f /docker-entrypoint-initdb.d/init.sql
    pg_ctl -D "$data" -m fast -w stop > /dev/null
  fi
fi
exec postgres -D "$data" -c listen_addresses='*' -c fsync=off -c synchronous_commit=off \
     -c full_page_writes=off -c shared_buffers=32MB -c max_connections=60
