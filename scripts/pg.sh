# Sourced by scripts/test.sh and scripts/bench.sh: a throwaway PostgreSQL cluster.
#
#   start_pg DIR [extra postgres -c options...]
#
# Installs Debian's `postgresql` when missing, creates a cluster in DIR owned by an
# unprivileged user (initdb refuses root), starts it on a free 127.0.0.1 port with its socket
# under DIR, stops it when the calling script exits, and sets PG_URL to a superuser URL
# (`postgres://postgate@127.0.0.1:PORT/postgres`, trust auth, loopback only).

APT_UPDATED=${APT_UPDATED:-}
apt_install() {
  [ -n "$APT_UPDATED" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

start_pg() {
  local dir=$1
  shift
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$PG_BIN" ]; then
    apt_install postgresql
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  PG_DIR=$dir
  PG_AS=()
  rm -rf "$PG_DIR"
  mkdir -p "$PG_DIR/sock"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home postgres
    chown -R postgres "$PG_DIR"
    PG_AS=(runuser -u postgres --)
  fi
  local port opts=""
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  for o in "$@"; do opts="$opts -c $o"; done
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgate --auth=trust -E UTF8 --no-locale >"$PG_DIR/initdb.log"
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $port -k $PG_DIR/sock -c listen_addresses=127.0.0.1 -c max_connections=300$opts" \
    start >/dev/null
  trap '"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true' EXIT
  PG_URL="postgres://postgate@127.0.0.1:$port/postgres"
}
