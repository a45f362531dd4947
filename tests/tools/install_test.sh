#!/usr/bin/env bash
# What operators get: `make install` into a scratch DESTDIR puts every file
# in its place (and `make uninstall` takes them away); the installed binary
# answers --version and --help, migrates a fresh database from another
# directory (its migrations are built in), and tells a service manager
# READY=1 and STOPPING=1 over $NOTIFY_SOCKET (a path and an abstract
# socket); the systemd unit passes systemd-analyze; the man page renders
# without a warning and documents exactly the commands, options and
# variables the binary knows, as the example environment file lists them.
# Prints TAP.
#   tests/tools/install_test.sh BUILD_DIR     (DATABASE_URL set: the owner's)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
build=${1:-build}
work=$(mktemp -d)
db="install_test_$$"
url="$DATABASE_URL dbname=$db"
# serve and worker connect as the API role when the run has one
# (scripts/test.sh); a later keyword wins in a conninfo.
app_url="$url${BOOKD_TEST_APP_USER:+ user=$BOOKD_TEST_APP_USER}"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  psql -X -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

n=0
ok() { n=$((n + 1)); if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
# skip DESCRIPTION: counts as passed, says why (a tool this machine lacks).
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# diag FILE: the lines that explain a failure, as TAP diagnostics.
diag() { sed 's/^/# /' "$1" | head -n 30; }
echo "1..30"

stage=$work/stage
bin=$stage/usr/bin/bookd

# ---------------------------------------------------------------- install

make --no-print-directory install BUILD="$build" DESTDIR="$stage" PREFIX=/usr \
  >"$work/install.log" 2>&1
rc=$?
ok $rc "make install DESTDIR=... PREFIX=/usr succeeds"
[[ $rc == 0 ]] || diag "$work/install.log"

cat >"$work/expected" <<'EOF'
0755 usr/bin/bookd
0644 usr/lib/systemd/system/bookd.service
0644 usr/share/doc/bookd/README.md
0644 usr/share/doc/bookd/bookd.env
0644 usr/share/doc/bookd/design.md
0644 usr/share/doc/bookd/openapi.json
0644 usr/share/doc/bookd/web.md
0644 usr/share/man/man1/bookd.1
EOF
(cd "$stage" 2>/dev/null && find . -type f -printf '%m %P\n' | sed 's/^\([0-7][0-7][0-7]\) /0\1 /' |
  LC_ALL=C sort -k2) >"$work/installed"
diff "$work/expected" "$work/installed" >"$work/diff"
ok $? "exactly the binary, the unit, the man page and the docs, with their modes, under DESTDIR/usr"
[[ -s "$work/diff" ]] && diag "$work/diff"

cmp -s docs/bookd.1 "$stage/usr/share/man/man1/bookd.1" &&
  cmp -s dist/bookd.env "$stage/usr/share/doc/bookd/bookd.env" &&
  cmp -s "$build/bookd" "$bin"
ok $? "the installed man page, environment file and binary are the ones of the tree and the build"

unit=$stage/usr/lib/systemd/system/bookd.service
grep -qx 'ExecStart=/usr/bin/bookd serve' "$unit" &&
  grep -qx 'EnvironmentFile=/etc/bookd/bookd.env' "$unit" &&
  ! grep -q '/usr/local' "$unit"
ok $? "the installed unit runs PREFIX's binary (/usr/bin/bookd) with /etc/bookd/bookd.env"

make --no-print-directory install BUILD="$build" DESTDIR="$work/default" >"$work/default.log" 2>&1 &&
  [[ -x "$work/default/usr/local/bin/bookd" ]] &&
  grep -qx 'ExecStart=/usr/local/bin/bookd serve' \
    "$work/default/usr/local/lib/systemd/system/bookd.service" &&
  [[ -f "$work/default/usr/local/share/man/man1/bookd.1" ]]
ok $? "without PREFIX, everything goes under /usr/local"

# ---------------------------------------------------------------- version, help

version=$(sed -n 's/^#define BOOKD_VERSION "\(.*\)"$/\1/p' src/app.h)
v1=$("$bin" --version) && v2=$("$bin" -V) && v3=$("$bin" version) &&
  [[ -n "$version" && "$v1" == "$v2" && "$v2" == "$v3" ]] &&
  [[ "$v1" =~ ^bookd\ ${version//./\\.}(\ \(commit\ [0-9a-f]+\))?$ ]]
rc=$?
ok $rc "--version, -V and version print the same line: bookd $version (from src/app.h)"
[[ $rc == 0 ]] || echo "# got: '${v1:-}' '${v2:-}' '${v3:-}'"

"$bin" --help >"$work/help1" 2>&1 && "$bin" -h >"$work/help2" 2>&1 &&
  "$bin" help >"$work/help" 2>&1 &&
  cmp -s "$work/help1" "$work/help" && cmp -s "$work/help2" "$work/help" &&
  grep -q '^usage: bookd COMMAND' "$work/help"
ok $? "--help, -h and help print the same usage and exit 0"

"$bin" --no-such-flag >/dev/null 2>&1
[[ $? == 2 ]]
ok $? "an unknown command exits 2"

# ---------------------------------------------------------------- migrate

psql -X -q "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
migrations=$(find migrations -maxdepth 1 -name '[0-9][0-9][0-9][0-9]_*.sql' | wc -l)
functions=$(find sql -maxdepth 1 -name '[0-9][0-9]_*.sql' | wc -l)
# A directory holding migrations and function files that fail: the
# installed binary must not take them for its own.
mkdir -p "$work/decoy/migrations" "$work/decoy/sql"
echo 'SELECT 1 / 0;' >"$work/decoy/migrations/0001_decoy.sql"
echo 'SELECT 1 / 0;' >"$work/decoy/sql/01_decoy.sql"
q() { psql -X -q -t -A "$url" -c "$1" 2>/dev/null; }

(cd "$work/decoy" && env -u BOOKD_MIGRATIONS_DIR -u BOOKD_SQL_DIR "$bin" migrate \
  --database-url "$url") >"$work/migrate1.log" 2>&1
rc=$?
ok $rc "the installed bookd migrates a fresh database from another directory"
[[ $rc == 0 ]] || diag "$work/migrate1.log"
[[ $(q "SELECT count(*) FROM schema_migrations") == "$migrations" &&
  $(q "SELECT count(*) FROM schema_functions") == "$functions" ]] &&
  grep -q '"migrations from the binary, function files from the binary"' "$work/migrate1.log"
ok $? "it applied the $migrations migrations and $functions function files built into it, not the directory's"

(cd / && "$bin" migrate --database-url "$url") >"$work/migrate2.log" 2>&1 &&
  grep -q "\"0 of $migrations migrations applied now" "$work/migrate2.log"
ok $? "run again from /, it applies no migration"

(cd "$work/decoy" && "$bin" migrate --database-url "$url" --migrations-dir migrations \
  --sql-dir sql) >"$work/migrate3.log" 2>&1
[[ $? == 1 ]] && grep -q '0001_decoy.sql' "$work/migrate3.log"
ok $? "told a directory (--migrations-dir), it applies that directory's files (the decoy fails, named)"

# ---------------------------------------------------------------- sd_notify

# notify_run NAME SOCKET COMMAND: runs the installed bookd's COMMAND with
# NOTIFY_SOCKET=SOCKET and a listener on it; once READY=1 came, stops it
# with SIGTERM. Leaves the datagrams in $work/NAME.notify, the log in
# $work/NAME.log, and whether /health answered when READY=1 came in
# $work/NAME.health.
notify_run() {
  local name=$1 socket=$2 cmd=$3 listener bookd
  : >"$work/$name.health"
  python3 tests/tools/notify_listen.py "$socket" "$work/$name.notify" 2>"$work/$name.listener" &
  listener=$!
  pids+=("$listener")
  for _ in $(seq 100); do [[ -e "$work/$name.notify" ]] && break; sleep 0.05; done
  NOTIFY_SOCKET=$socket DATABASE_URL=$app_url BOOKD_LISTEN=127.0.0.1:0 \
    "$bin" "$cmd" 2>"$work/$name.log" &
  bookd=$!
  pids+=("$bookd")
  for _ in $(seq 200); do
    grep -q '^READY=1$' "$work/$name.notify" 2>/dev/null && break
    sleep 0.05
  done
  if [[ $cmd == serve ]] && grep -q '^READY=1$' "$work/$name.notify"; then
    base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/$name.log" | head -n 1)
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/health" >"$work/$name.health"
  fi
  kill -TERM "$bookd" 2>/dev/null
  wait "$bookd"
  echo $? >"$work/$name.rc"
  for _ in $(seq 100); do kill -0 "$listener" 2>/dev/null || break; sleep 0.05; done
  kill "$listener" 2>/dev/null
  wait "$listener" 2>/dev/null
}

if ! command -v python3 >/dev/null; then
  for t in "serve sends READY=1" "serve sends STOPPING=1" "worker on an abstract socket"; do
    ok 1 "$t (python3 is missing: scripts/deps.sh --test installs it)"
  done
else
  notify_run serve "$work/notify.sock" serve
  grep -q '^READY=1$' "$work/serve.notify" &&
    grep -qE '^STATUS=serving on http://127\.0\.0\.1:[0-9]+$' "$work/serve.notify" &&
    [[ $(cat "$work/serve.health") == 200 ]]
  rc=$?
  ok $rc "serve sends READY=1 (and STATUS=serving on its address) to a path socket once /health answers"
  [[ $rc == 0 ]] || { diag "$work/serve.notify"; diag "$work/serve.log"; }
  # READY first, STOPPING after it, each once; then a clean exit.
  [[ $(grep -xE 'READY=1|STOPPING=1' "$work/serve.notify" | paste -sd,) == "READY=1,STOPPING=1" &&
    $(cat "$work/serve.rc") == 0 ]]
  ok $? "on SIGTERM serve sends STOPPING=1, after READY=1, each once, and exits 0"

  notify_run worker "@bookd-install-test-$$" worker
  [[ $(grep -xE 'READY=1|STOPPING=1' "$work/worker.notify" | paste -sd,) == "READY=1,STOPPING=1" ]] &&
    grep -qx 'STATUS=delivering the outbox' "$work/worker.notify" &&
    [[ $(cat "$work/worker.rc") == 0 ]]
  rc=$?
  ok $rc "worker sends READY=1 then STOPPING=1 to an abstract socket (@name)"
  [[ $rc == 0 ]] || { diag "$work/worker.notify"; diag "$work/worker.log"; }
fi

# A socket nobody listens on: bookd says so and serves all the same.
NOTIFY_SOCKET=$work/nobody.sock DATABASE_URL=$app_url BOOKD_LISTEN=127.0.0.1:0 \
  "$bin" serve 2>"$work/nobody.log" &
pid=$!
pids+=("$pid")
for _ in $(seq 100); do
  base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/nobody.log" | head -n 1)
  [[ -n "$base" ]] && break
  sleep 0.05
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${base:-http://127.0.0.1:1}/health")
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
[[ $code == 200 && $rc == 0 ]] && grep -q '"systemd.notify_failed"' "$work/nobody.log"
ok $? "with NOTIFY_SOCKET naming no listener, serve logs systemd.notify_failed and serves"

# ---------------------------------------------------------------- the unit

# systemd-analyze checks that ExecStart= is there to run and man:bookd(1)
# can be opened: point both at the staged files.
mkdir -p "$work/unit"
sed "s|^ExecStart=/usr/bin/bookd|ExecStart=$bin|" "$unit" >"$work/unit/bookd.service"
if command -v systemd-analyze >/dev/null; then
  MANPATH=$stage/usr/share/man systemd-analyze verify "$work/unit/bookd.service" \
    >"$work/verify.log" 2>&1
  rc=$?
  [[ $rc == 0 && ! -s "$work/verify.log" ]]
  ok $? "systemd-analyze verify: the unit is valid, without a warning"
  [[ $rc == 0 && ! -s "$work/verify.log" ]] || diag "$work/verify.log"
  systemd-analyze security --offline=yes --threshold=15 "$work/unit/bookd.service" \
    >"$work/security.log" 2>&1
  rc=$?
  ok $rc "systemd-analyze security: exposure at most 1.5 ($(grep -o 'exposure level.*' "$work/security.log"))"
  [[ $rc == 0 ]] || grep '✗' "$work/security.log" | diag /dev/stdin
else
  skip "systemd-analyze verify" "no systemd-analyze on this machine"
  skip "systemd-analyze security" "no systemd-analyze on this machine"
fi
for setting in DynamicUser=yes ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
  PrivateTmp=yes PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
  ProtectKernelLogs=yes ProtectControlGroups=yes 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
  RestrictNamespaces=yes LockPersonality=yes MemoryDenyWriteExecute=yes \
  SystemCallFilter=@system-service CapabilityBoundingSet= UMask=0077 Type=notify; do
  grep -qxF "$setting" "$unit" || echo "$setting" >>"$work/missing"
done
[[ ! -s "$work/missing" ]]
ok $? "the unit has every hardening setting asked of it, and Type=notify"
[[ -s "$work/missing" ]] && diag "$work/missing"

# ---------------------------------------------------------------- the man page

page=docs/bookd.1
if command -v groff >/dev/null; then
  groff -man -Tutf8 -ww -z "$page" >"$work/groff.log" 2>&1
  rc=$?
  [[ $rc == 0 && ! -s "$work/groff.log" ]]
  ok $? "groff -man -ww renders the man page without a warning"
  [[ -s "$work/groff.log" ]] && diag "$work/groff.log"
  if command -v man >/dev/null; then
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$stage/usr/share/man/man1/bookd.1" \
      >"$work/man.txt" 2>"$work/man.log"
    rc=$?
    [[ $rc == 0 && ! -s "$work/man.log" ]] && grep -q 'BOOKD(1)' "$work/man.txt"
    ok $? "man -l renders the installed page without a warning"
    [[ -s "$work/man.log" ]] && diag "$work/man.log"
  else
    skip "man -l renders the installed page" "no man on this machine (groff rendered it above)"
  fi
else
  ok 1 "groff renders the man page (groff is missing: scripts/deps.sh --test installs groff-base)"
  ok 1 "man -l renders the installed page (groff is missing)"
fi

# The binary's own list (config.c's table, printed by `bookd help`): one
# "FLAG ENV DEFAULT" line per setting ("-" for none), sorted.
awk '/^flags and environment variables/ { on = 1; next }
  on && /^  / {
    flag = ($1 ~ /^--/) ? $1 : "-"
    env = ($1 ~ /^--/) ? $2 : $3
    def = "-"
    if (match($0, /\(default [^)]*\)$/)) def = substr($0, RSTART + 9, RLENGTH - 10)
    print flag, env, def
  }' "$work/help" | LC_ALL=C sort >"$work/settings"
[[ $(wc -l <"$work/settings") -ge 40 ]]
ok $? "bookd help lists the settings ($(wc -l <"$work/settings") of them)"

# The page as plain text with its roff markup gone, and the entries of
# its option lists: "TAG<TAB>BODY" per .TP, with the section it is in.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(aq/'"'"'/g' -e 's/\\&//g' "$page" >"$work/page"
awk -v OFS='\t' '
  /^\.(TP|SH|SS|PP)/ { if (tag != "") print section, tag, body; tag = ""; body = "" }
  /^\.SH / { section = $2 }
  /^\.TP/ { want = 1; next }
  want { tag = $0; sub(/^\.[A-Z]+ /, "", tag); gsub(/"/, "", tag); want = 0; next }
  tag != "" { body = body " " $0 }
  END { if (tag != "") print section, tag, body }' "$work/page" >"$work/entries"

documented_envs() { grep -oE '(BOOKD_[A-Z0-9_]+|DATABASE_URL)' | LC_ALL=C sort -u; }
{ awk '{ print $2 }' "$work/settings"; echo BOOKD_LOG_LEVEL; } | LC_ALL=C sort -u >"$work/known_envs"
awk -F'\t' '$1 == "OPTIONS" || $1 == "ENVIRONMENT" { print $2 }' "$work/entries" |
  documented_envs >"$work/page_envs"
diff "$work/known_envs" "$work/page_envs" >"$work/diff"
ok $? "the man page has an entry for every variable bookd knows, and for no other"
[[ -s "$work/diff" ]] && diag "$work/diff"

documented_envs <"$work/page" | LC_ALL=C comm -23 - "$work/known_envs" >"$work/unknown"
[[ ! -s "$work/unknown" ]]
ok $? "the man page names no BOOKD_ variable bookd does not know"
[[ -s "$work/unknown" ]] && diag "$work/unknown"

awk '$1 != "-" { print $1 }' "$work/settings" | LC_ALL=C sort -u >"$work/known_flags"
awk -F'\t' '$1 == "OPTIONS" { print $2 }' "$work/entries" | grep -oE '(^|[ ,])--[a-z0-9-]+' |
  tr -d ' ,' | LC_ALL=C sort -u >"$work/page_flags"
diff "$work/known_flags" "$work/page_flags" >"$work/diff"
ok $? "its OPTIONS list every flag bookd knows, and no other"
[[ -s "$work/diff" ]] && diag "$work/diff"

# Each entry pairs a flag with its own variable, and states its default.
: >"$work/wrong"
while read -r flag env def; do
  entry=$(awk -F'\t' -v e="$env" '{ n = split($2, w, /[ ,]+/); for (i = 1; i <= n; i++) if (w[i] == e) print $2 "\t" $3 }' "$work/entries")
  if [[ $flag != "-" && $(cut -f1 <<<"$entry" | awk -F'[ ,]+' '{ print $1 }') != "$flag" ]]; then
    echo "$env: the entry's tag does not start with $flag" >>"$work/wrong"
  fi
  if [[ $def != "-" && $(cut -f2 <<<"$entry") != *"Default: $def."* ]]; then
    echo "$env: the entry does not say \"Default: $def.\"" >>"$work/wrong"
  fi
done <"$work/settings"
[[ ! -s "$work/wrong" ]]
ok $? "each entry pairs its flag with its variable and states the binary's default"
[[ -s "$work/wrong" ]] && diag "$work/wrong"

: >"$work/wrong"
for c in serve worker migrate "secrets rotate" "org create" version help; do
  grep -qE "^  $c( |$)" "$work/help" || echo "bookd help does not list $c" >>"$work/wrong"
  awk -F'\t' '$1 == "COMMANDS" { print $2 }' "$work/entries" | grep -qE "^$c( |,|$)" ||
    echo "the man page has no COMMANDS entry for $c" >>"$work/wrong"
done
grep -q '^\.SH EXIT STATUS' "$page" && grep -q '^\.SH FILES' "$page" &&
  grep -q '^\.SH EXAMPLES' "$page" && grep -q 'Least privilege' "$page" ||
  echo "a section is missing (EXIT STATUS, FILES, EXAMPLES, Least privilege)" >>"$work/wrong"
[[ ! -s "$work/wrong" ]]
ok $? "the man page documents every command, exit status, files, examples, least privilege"
[[ -s "$work/wrong" ]] && diag "$work/wrong"

# The example environment file: every variable, commented out, with the
# binary's defaults.
env_file=dist/bookd.env
sed -n 's/^#\{0,1\}\(BOOKD_[A-Z0-9_]*\|DATABASE_URL\)=.*/\1/p' "$env_file" | LC_ALL=C sort -u \
  >"$work/file_envs"
diff "$work/known_envs" "$work/file_envs" >"$work/diff" && ! grep -qE '^(BOOKD_|DATABASE_URL)' "$env_file"
ok $? "dist/bookd.env names every variable bookd knows, each commented out"
[[ -s "$work/diff" ]] && diag "$work/diff"
: >"$work/wrong"
while read -r _ env def; do
  [[ $def == "-" ]] && continue
  grep -qxF "#$env=$def" "$env_file" || echo "$env: not #$env=$def" >>"$work/wrong"
done <"$work/settings"
[[ ! -s "$work/wrong" ]]
ok $? "dist/bookd.env shows the binary's default of every variable that has one"
[[ -s "$work/wrong" ]] && diag "$work/wrong"

# ---------------------------------------------------------------- uninstall

make --no-print-directory uninstall DESTDIR="$stage" PREFIX=/usr >"$work/uninstall.log" 2>&1 &&
  [[ -z "$(find "$stage" -type f)" ]] && [[ ! -e "$stage/usr/share/doc/bookd" ]]
ok $? "make uninstall DESTDIR=... PREFIX=/usr removes every file it installed"
[[ -n "$(find "$stage" -type f 2>/dev/null)" ]] && find "$stage" -type f | diag /dev/stdin
true
