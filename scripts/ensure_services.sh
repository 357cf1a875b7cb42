# Sourced: start the local PostgreSQL and Redis the tests talk to, when they are down; install Chromium.
# A machine without their servers gets them from Debian's packages (apt-get, as root), or is told what to install.
_missing=""
command -v pg_ctlcluster >/dev/null 2>&1 || _missing="$_missing postgresql"
command -v redis-server >/dev/null 2>&1 || _missing="$_missing redis-server"
if [ -n "$_missing" ] && ! { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[setup] installing$_missing (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq --no-install-recommends $_missing >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $_missing >/dev/null; }; } \
      || { echo "[setup] could not install$_missing; install them (e.g. 'sudo apt-get install$_missing') and rerun" >&2; exit 1; }
    case "$_missing" in *postgresql*)  # a cluster we just created: the tests' trust login on loopback
      _hba="$(ls -d /etc/postgresql/*/main | head -1)/pg_hba.conf"
      sed -i '1i host all all 127.0.0.1/32 trust' "$_hba" ;;
    esac
  else
    echo "The tests need a PostgreSQL server on 127.0.0.1:5432 (trust auth for user postgres, database 'test')" >&2
    echo "and a Redis server on 127.0.0.1:6379. Missing here:$_missing." >&2
    echo "On Debian or Ubuntu: sudo apt-get install$_missing; elsewhere point HUB_TEST_PG_URL at a server." >&2
    exit 1
  fi
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "[setup] starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "[setup] starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
if ! psql -h 127.0.0.1 -U postgres -d test -Atc "select 1" >/dev/null 2>&1; then
  echo "[setup] creating database 'test'"
  psql -h 127.0.0.1 -U postgres -d postgres -c "create database test" >/dev/null \
    || { echo "PostgreSQL on 127.0.0.1:5432 must let user postgres in without a password (trust)" >&2; exit 1; }
fi
# Debian's Chromium for the Dagster UI browser test (no browser download; a few seconds from the mirror).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
    || echo "[setup] chromium could not be installed; the UI browser test will say so" >&2
fi
