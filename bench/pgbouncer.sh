# shellcheck shell=bash disable=SC2154 # run.sh's variables (token, bookd_bin, ...)
# make bench's PgBouncer part, sourced by bench/run.sh (which it relies on
# for base, bookd_pid, wrk_run, pg_run, field, median, ratio, pair_ratios,
# per_second, ok_per_second, stop, sql, run, runs, seconds, work, token,
# bookd_bin, first_key, day): bookd through Debian's PgBouncer in
# transaction pooling mode with BOOKD_DB_STATEMENTS=unnamed, next to bookd
# connected directly with prepared statements (the default) and directly
# with unnamed ones, which splits the cost into the statements' share and
# the pooler's. Three bookd processes on one database, each measurement
# interleaved with the others (the order turned each run), medians.
# BENCH_ONLY=pgbouncer runs this part alone and rewrites only its section
# of bench/RESULTS.md.

pgb_dir=
pgb_pid=
pgb_base=
un_base=
pgb_bookd_pid=
un_bookd_pid=
pgb_skipped=

pgbouncer_stop() {
  stop "$pgb_bookd_pid"
  stop "$un_bookd_pid"
  if [[ -n $pgb_pid ]]; then
    # Started as a daemon: not this shell's child, so waited for by polling.
    kill "$pgb_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pgb_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  [[ -n $pgb_dir ]] && rm -rf "$pgb_dir"
  pgb_pid='' pgb_bookd_pid='' un_bookd_pid='' pgb_dir=''
}

# conninfo_value KEY: KEY's value in DATABASE_URL (key=value form).
conninfo_value() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$DATABASE_URL"; }

# start_bench_bookd PID_VAR BASE_VAR LOG VAR=VALUE...: a bookd as run.sh's
# main one (its worker included) with these settings; its PID and address
# into the variables named.
start_bench_bookd() {
  local pid_var=$1 base_var=$2 log=$3 b
  shift 3
  env BOOKD_LISTEN=127.0.0.1:0 BOOKD_ADMIN_TOKEN="$token" BOOKD_RATE_LIMIT_ADMIN=1000000/1000000 \
    "$@" "$bookd_bin" serve >/dev/null 2>"$log" &
  printf -v "$pid_var" %s "$!"
  for _ in $(seq 100); do
    b=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -n 1 || true)
    [[ -n $b ]] && break
    sleep 0.1
  done
  printf -v "$base_var" %s "$b"
}

# pgbouncer_start: PgBouncer on a free port of 127.0.0.1 in transaction
# mode in front of DATABASE_URL's server (its unix socket or host), as the
# cluster's owner (postgres when root), and two more bookd processes: one
# through it, one direct, both unnamed. Sets pgb_skipped when it cannot.
pgbouncer_start() {
  local host port dbname user password pgb_port
  if ! command -v pgbouncer >/dev/null; then
    pgb_skipped="pgbouncer is not installed (scripts/deps.sh --test installs it)"
    return 1
  fi
  host=$(conninfo_value host) port=$(conninfo_value port) dbname=$(conninfo_value dbname)
  user=$(conninfo_value user) password=$(conninfo_value password)
  if [[ -z $host ]]; then
    pgb_skipped="DATABASE_URL is not in key=value form with host= (PgBouncer is put in front of that host)"
    return 1
  fi
  dbname=${dbname:-bookd} user=${user:-$(id -un)}
  password=${password:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
  pgb_dir=$(mktemp -d /tmp/bookd-bench-pgbouncer.XXXXXX)
  pgb_port=$(node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
  # As many server sessions as bookd has connections, plus its worker's
  # and the probes': bookd never waits in PgBouncer's queue here, so the
  # comparison is of the path, not of a smaller pool.
  cat >"$pgb_dir/pgbouncer.ini" <<EOF
[databases]
bench = host=$host ${port:+port=$port} dbname=$dbname
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgb_port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $pgb_dir/users.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 200
query_wait_timeout = 5
logfile = $pgb_dir/pgbouncer.log
pidfile = $pgb_dir/pgbouncer.pid
EOF
  printf '"%s" "%s"\n' "$user" "$password" >"$pgb_dir/users.txt"
  chmod 600 "$pgb_dir/users.txt"
  [[ $(id -u) -eq 0 ]] && chown -R postgres: "$pgb_dir"
  if ! pg_as_owner pgbouncer -d -q "$pgb_dir/pgbouncer.ini"; then
    pgb_skipped="pgbouncer did not start"
    return 1
  fi
  for _ in $(seq 50); do [[ -s $pgb_dir/pgbouncer.pid ]] && break; sleep 0.1; done
  pgb_pid=$(cat "$pgb_dir/pgbouncer.pid" 2>/dev/null)
  start_bench_bookd pgb_bookd_pid pgb_base "$work/bookd-pgb.log" \
    DATABASE_URL="host=127.0.0.1 port=$pgb_port dbname=bench user=$user password=$password" \
    BOOKD_DB_STATEMENTS=unnamed
  start_bench_bookd un_bookd_pid un_base "$work/bookd-unnamed.log" \
    DATABASE_URL="$DATABASE_URL" BOOKD_DB_STATEMENTS=unnamed
  if [[ -z $pgb_base || -z $un_base ]] ||
     ! curl -s "$pgb_base/ready" | grep -q '"status":"ready"'; then
    pgb_skipped="bookd through PgBouncer did not start: $(tail -n 3 "$work/bookd-pgb.log")"
    return 1
  fi
}

# pgb_tps SCRIPT: pgbench's tps for SCRIPT at 16 clients, extended protocol, whole.
# book_with_timeout_sql: the path of bench/pg_book.sql as
# BOOKD_DB_STATEMENTS=unnamed sends it (made from it, so the two cannot
# drift apart): the statement's timeout set in its own transaction first, in
# one pipeline (one Sync, one round trip). Run with -M extended.
book_with_timeout_sql() {
  local f=$work/pg_book_timeout.sql
  { sed -n '/^\\set/p' bench/pg_book.sql
    echo '\startpipeline'
    echo "SELECT set_config('statement_timeout', '5000', true);"
    sed -n '/^SELECT/,$p' bench/pg_book.sql
    echo '\endpipeline'; } >"$f"
  echo "$f"
}

pgb_tps() {
  local tps
  tps=$(field tps "$(pg_run "$1" 16 -M extended)")
  printf '%.0f' "${tps:-0}"
}

pgb_ticks() { awk '{print $14 + $15}' "/proc/$pgb_pid/stat" 2>/dev/null || echo 0; }

# pgbouncer_measure: fills pgb_* with medians and run-by-run figures.
declare -A pgb_book16 pgb_book64 pgb_slots pgb_p99 pgb_cpu pgb_slots_cpu pgb_runs
pgb_bouncer_ms=() pgb_fn=() pgb_fn_timeout=()
pgb_command="${BENCH_SECONDS:+BENCH_SECONDS=$BENCH_SECONDS }${BENCH_RUNS:+BENCH_RUNS=$BENCH_RUNS }${BENCH_ONLY:+BENCH_ONLY=$BENCH_ONLY }make bench"
pgbouncer_measure() {
  local main_base=$base main_pid=$bookd_pid order=(direct unnamed pgbouncer) mode r i line t0
  declare -A m_b16 m_b64 m_sl m_p99 m_cpu m_scpu
  if ! pgbouncer_start; then
    echo "bench: PgBouncer part skipped: $pgb_skipped" >&2
    pgbouncer_stop
    return
  fi
  for r in $(seq "$runs"); do
    for i in 0 1 2; do
      mode=${order[$(( (i + r - 1) % 3 ))]}
      case $mode in
        direct) base=$main_base bookd_pid=$main_pid ;;
        unnamed) base=$un_base bookd_pid=$un_bookd_pid ;;
        pgbouncer) base=$pgb_base bookd_pid=$pgb_bookd_pid ;;
      esac
      echo "bench: PgBouncer part, run $r: $mode" >&2
      t0=$(pgb_ticks)
      line=$(wrk_run bench/book.lua 16 BENCH_DATA="$work/orgs.txt" \
        BENCH_BASE_EPOCH=$(( $(date -u -d 2040-01-01 +%s) + run * 315360000 )))
      run=$(( run + 1 ))
      m_b16[$mode]+="$(ok_per_second "$line") " m_p99[$mode]+="$(field p99_ms "$line") "
      m_cpu[$mode]+="$(field machine_ms "$line") "
      [[ $mode == pgbouncer ]] &&
        pgb_bouncer_ms+=("$(ms_per $(( $(pgb_ticks) - t0 )) "$(field requests "$line")")")
      line=$(wrk_run bench/book.lua 64 BENCH_DATA="$work/orgs.txt" \
        BENCH_BASE_EPOCH=$(( $(date -u -d 2040-01-01 +%s) + run * 315360000 )))
      run=$(( run + 1 ))
      m_b64[$mode]+="$(ok_per_second "$line") "
      line=$(wrk_run bench/slots.lua 16 BENCH_KEY="$first_key" BENCH_DATE="$day")
      m_sl[$mode]+="$(per_second "$(field requests "$line")" "$line") "
      m_scpu[$mode]+="$(field machine_ms "$line") "
    done
    # The per-statement timeout alone, in PostgreSQL: the booking function
    # with and without the set_config that UNNAMED mode sends before it in
    # one pipeline (pgbench, extended protocol, 16 clients).
    pgb_fn+=("$(pgb_tps bench/pg_book.sql)") pgb_fn_timeout+=("$(pgb_tps "$(book_with_timeout_sql)")")
  done
  base=$main_base bookd_pid=$main_pid
  for mode in direct unnamed pgbouncer; do
    # shellcheck disable=SC2086 # the lists are space-separated on purpose
    pgb_book16[$mode]=$(median ${m_b16[$mode]}) pgb_book64[$mode]=$(median ${m_b64[$mode]})
    # shellcheck disable=SC2086
    pgb_slots[$mode]=$(median ${m_sl[$mode]}) pgb_p99[$mode]=$(median ${m_p99[$mode]})
    # shellcheck disable=SC2086
    pgb_cpu[$mode]=$(median ${m_cpu[$mode]}) pgb_slots_cpu[$mode]=$(median ${m_scpu[$mode]})
  done
  pgb_runs[book16]=$(pair_ratios "${m_b16[pgbouncer]}" "${m_b16[direct]}")
  pgb_runs[book64]=$(pair_ratios "${m_b64[pgbouncer]}" "${m_b64[direct]}")
  pgb_runs[slots]=$(pair_ratios "${m_sl[pgbouncer]}" "${m_sl[direct]}")
  pgb_runs[unnamed16]=$(pair_ratios "${m_b16[unnamed]}" "${m_b16[direct]}")
  pgb_version=$(pgbouncer --version | head -n 1 | awk '{print $2}')
  pgbouncer_stop
}

# pgbouncer_section: the section of bench/RESULTS.md, from "## PgBouncer" on.
pgbouncer_section() {
  local m
  echo "## PgBouncer (transaction pooling, BOOKD_DB_STATEMENTS=unnamed)"
  echo
  if [[ -n $pgb_skipped ]]; then
    echo "Not measured: $pgb_skipped."
    echo
    return
  fi
  echo "bookd through PgBouncer $pgb_version in transaction mode (20 server sessions, more than"
  echo "bookd's 16 connections, so nothing queues in PgBouncer) with unnamed statements, next to"
  echo "bookd connected directly with prepared statements (the default) and directly with unnamed"
  echo "ones: three bookd processes on one database, each measurement $seconds s, the three"
  echo "interleaved (the order turned each run), $runs runs, medians. Unnamed statements are"
  echo "parsed and planned on every call and carry their statement_timeout in their own"
  echo "transaction (a set_config in the same round trip); the pooler adds a hop each way."
  echo "Measured on $(date -u +%Y-%m-%d) by \`${pgb_command}\`."
  echo
  echo "| | direct, prepared | direct, unnamed | PgBouncer, unnamed | PgBouncer ÷ direct prepared | direct unnamed ÷ prepared |"
  echo "|---|---|---|---|---|---|"
  for m in book16:"bookings/s, 16 connections" book64:"bookings/s, 64 connections" \
           slots:"availability req/s, 16 connections"; do
    local k=${m%%:*} label=${m#*:} d u p
    case $k in
      book16) d=${pgb_book16[direct]} u=${pgb_book16[unnamed]} p=${pgb_book16[pgbouncer]} ;;
      book64) d=${pgb_book64[direct]} u=${pgb_book64[unnamed]} p=${pgb_book64[pgbouncer]} ;;
      slots) d=${pgb_slots[direct]} u=${pgb_slots[unnamed]} p=${pgb_slots[pgbouncer]} ;;
    esac
    echo "| $label | $d | $u | $p | $(ratio "$p" "$d") | $(ratio "$u" "$d") |"
  done
  echo "| booking p99 ms, 16 connections | ${pgb_p99[direct]} | ${pgb_p99[unnamed]} | ${pgb_p99[pgbouncer]} | | |"
  echo "| machine ms a booking, 16 connections | ${pgb_cpu[direct]} | ${pgb_cpu[unnamed]} | ${pgb_cpu[pgbouncer]} | $(ratio "${pgb_cpu[pgbouncer]}" "${pgb_cpu[direct]}") | $(ratio "${pgb_cpu[unnamed]}" "${pgb_cpu[direct]}") |"
  echo "| machine ms an availability request | ${pgb_slots_cpu[direct]} | ${pgb_slots_cpu[unnamed]} | ${pgb_slots_cpu[pgbouncer]} | $(ratio "${pgb_slots_cpu[pgbouncer]}" "${pgb_slots_cpu[direct]}") | $(ratio "${pgb_slots_cpu[unnamed]}" "${pgb_slots_cpu[direct]}") |"
  echo
  echo "PgBouncer ÷ direct prepared run by run: bookings at 16 connections ${pgb_runs[book16]};"
  echo "at 64, ${pgb_runs[book64]}; availability ${pgb_runs[slots]}. Direct unnamed ÷ prepared,"
  echo "bookings at 16: ${pgb_runs[unnamed16]}. PgBouncer's own CPU a booking at 16 connections:"
  echo "$(median "${pgb_bouncer_ms[@]}") ms (runs: ${pgb_bouncer_ms[*]})."
  echo
  echo "The per-statement timeout alone (pgbench, 16 clients, extended protocol): the booking"
  echo "function with the set_config before it in one pipeline made $(median "${pgb_fn_timeout[@]}") tps"
  echo "against $(median "${pgb_fn[@]}") without, $(ratio "$(median "${pgb_fn_timeout[@]}")" "$(median "${pgb_fn[@]}")") × (runs: $(pair_ratios "${pgb_fn_timeout[*]}" "${pgb_fn[*]}"))."
  echo
}
