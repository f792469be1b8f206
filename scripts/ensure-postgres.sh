#!/usr/bin/env bash
# Start the machine's PostgreSQL server if it is down (127.0.0.1:5432, trust auth, database "test").
# Outside CI a missing server only makes the PostgreSQL tests skip; in CI (CI=true) it is an error.
set -u
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null 2>&1; then
  echo "ensure-postgres: PostgreSQL client tools not installed" >&2
  [ "${CI:-}" = "true" ] && exit 1 || exit 0
fi
if ready; then exit 0; fi
version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
if [ -n "$version" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "ensure-postgres: starting PostgreSQL $version" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "ensure-postgres: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
[ "${CI:-}" = "true" ] && exit 1 || exit 0
