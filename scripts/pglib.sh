# Shell functions for a private PostgreSQL cluster inside a directory of the
# checkout: data in DIR/data, the unix socket in DIR/run, no TCP port at all,
# so any number of checkouts can run side by side. As root, initdb and
# postgres refuse to run, so they run as the `postgres` user, which then owns
# DIR. Sourced by devdb.sh and test.sh.

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$d" ]] || { echo "pglib: no PostgreSQL server found (run scripts/deps.sh)" >&2; return 1; }
  echo "$d"
}

# Runs a command as the cluster's owner.
pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A unix socket path is limited to 107 bytes; a deep checkout falls back to a
# directory under /tmp named after the checkout, linked from DIR.
pg_prepare_dir() {
  local dir=$1
  mkdir -p "$dir"
  if (( ${#dir} > 80 )) && [[ ! -L "$dir/run" ]]; then
    local short
    short=$(mktemp -d /tmp/bookd-pg.XXXXXX)
    ln -s "$short" "$dir/run"
  fi
  mkdir -p "$dir/run"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$dir" "$(readlink -f "$dir/run")"
    if ! runuser -u postgres -- test -w "$dir"; then
      echo "pglib: user postgres cannot reach $dir (a parent directory is not searchable)" >&2
      return 1
    fi
  fi
}

pg_socket_dir() { readlink -f "$1/run"; }

# The owner's connection (migrations, tests' checks) and the one bookd
# serves with: bookd_app, a member of bookd_api, which may only execute the
# API functions (sql/99_privileges.sql).
pg_conninfo() {
  echo "host=$(pg_socket_dir "$1") dbname=bookd user=bookd"
}
pg_app_conninfo() {
  echo "host=$(pg_socket_dir "$1") dbname=bookd user=bookd_app"
}

# Peer authentication on the unix socket, the only way in: the operating
# system's user who runs these scripts (and postgres, when that is root)
# may connect as bookd (the owner) or bookd_app; nobody else, as nobody.
# Written on every start, so clusters made before this rule get it too.
pg_write_auth() {
  local dir=$1 me
  me=$(id -un)
  {
    echo "# written by scripts/pglib.sh (pg_write_auth)"
    echo "local all all peer map=bookd"
  } | pg_as_owner tee "$dir/data/pg_hba.conf" >/dev/null
  {
    echo "# written by scripts/pglib.sh (pg_write_auth)"
    for os_user in "$me" postgres; do
      echo "bookd $os_user bookd"
      echo "bookd $os_user bookd_app"
    done
  } | pg_as_owner tee "$dir/data/pg_ident.conf" >/dev/null
}

pg_is_running() {
  local bin; bin=$(pg_bindir) || return 1
  [[ -f "$1/data/PG_VERSION" ]] && pg_as_owner "$bin/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

# pg_start DIR [durable|throwaway]: initdb on first use, start, create the
# `bookd` database. Idempotent. A throwaway cluster trades durability
# (fsync) for speed; never use one for data you want to keep.
pg_start() {
  local dir=$1 mode=${2:-durable} bin
  bin=$(pg_bindir) || return 1
  pg_prepare_dir "$dir" || return 1
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    pg_as_owner "$bin/initdb" -D "$dir/data" -U bookd --auth=reject -E UTF8 --no-locale \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
    {
      echo "listen_addresses = ''"
      echo "unix_socket_directories = '$(pg_socket_dir "$dir")'"
      echo "max_connections = 400"
      echo "shared_buffers = 256MB"
      echo "max_locks_per_transaction = 256"
      echo "log_min_messages = warning"
      if [[ $mode == throwaway ]]; then
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
      fi
    } | pg_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
  fi
  pg_write_auth "$dir"
  if ! pg_is_running "$dir"; then
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/run/postgres.log" -w -t 60 start >/dev/null ||
      { tail -n 20 "$dir/run/postgres.log" >&2; return 1; }
  else
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" reload >/dev/null
  fi
  local sock; sock=$(pg_socket_dir "$dir")
  if ! "$bin/psql" -X -q -h "$sock" -U bookd -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'bookd'" | grep -q 1; then
    "$bin/createdb" -h "$sock" -U bookd bookd
  fi
  "$bin/psql" -X -q -h "$sock" -U bookd -d postgres -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bookd_api') THEN
        CREATE ROLE bookd_api NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bookd_app') THEN
        CREATE ROLE bookd_app LOGIN IN ROLE bookd_api;
    END IF;
END
$$;
SQL
}

pg_stop() {
  local dir=$1 bin
  bin=$(pg_bindir) || return 1
  if pg_is_running "$dir"; then
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  fi
}
