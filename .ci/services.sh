#!/usr/bin/env bash
# Installs and starts what the service-backed tests need on a fresh Debian machine:
# pgvector (built from Debian's trixie source package, bookworm has no binary), PostgreSQL 15, Redis.
# Idempotent: every step checks before it acts. Prints the env vars to use on its last lines.
set -euo pipefail
log() { echo "[services] $*" >&2; }

PG_VERSION="${PG_VERSION:-$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)}"
PG_VERSION="${PG_VERSION:-15}"
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq >&2; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

if ! command -v pg_ctlcluster >/dev/null; then log "installing PostgreSQL"; apt_install "postgresql"; PG_VERSION=$(ls /etc/postgresql | sort -V | tail -1); fi
if ! command -v redis-server >/dev/null; then log "installing Redis"; apt_install redis-server; fi

if [ ! -f "/usr/share/postgresql/$PG_VERSION/extension/vector.control" ]; then
  log "building pgvector for PostgreSQL $PG_VERSION from Debian's source package"
  if [ ! -f /etc/apt/sources.list.d/trixie-src.sources ]; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      > /etc/apt/sources.list.d/trixie-src.sources
    apt_updated=0
  fi
  apt_install "postgresql-server-dev-$PG_VERSION" build-essential dpkg-dev
  work=$(mktemp -d); (cd "$work" && apt-get source --download-only pgvector >&2 && tar xzf pgvector_*.orig.tar.gz)
  dir=$(find "$work" -maxdepth 1 -type d -name 'pgvector-*' | head -1)
  make -s -C "$dir" PG_CONFIG="/usr/lib/postgresql/$PG_VERSION/bin/pg_config" >&2
  make -s -C "$dir" install PG_CONFIG="/usr/lib/postgresql/$PG_VERSION/bin/pg_config" >&2
  rm -rf "$work"
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL $PG_VERSION"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 >&2 || { log "PostgreSQL did not start"; exit 1; }

DB="${QUARRY_TEST_DB:-quarry_test}"
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='$DB'\"" | grep -q 1; then
  su postgres -c "psql -qc 'CREATE DATABASE $DB'" >&2
fi
su postgres -c "psql -q -d $DB -c 'CREATE EXTENSION IF NOT EXISTS vector'" >&2

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2
  for _ in $(seq 1 30); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { log "Redis did not start"; exit 1; }

echo "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB"
echo "REDIS_URL=redis://127.0.0.1:6379"
