#!/usr/bin/env bash
# Installs the Debian packages bookd needs, if any are missing:
#   scripts/deps.sh            what building and running need (`make run`)
#   scripts/deps.sh --test     that and the test and benchmark toolchain
#                              (`make test`, `make bench`)
#   scripts/deps.sh PKG...     and these besides (`make fuzz` adds clang)
# As root: `apt-get update` once, then `apt-get install -y`. Otherwise:
# prints the exact command to run and exits 1.
set -euo pipefail

# Building and running: the compiler, the libraries bookd links, and a
# PostgreSQL server for the private development database.
packages=(
  make gcc pkg-config ca-certificates
  libpq-dev libssl-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev
  postgresql postgresql-contrib
)
if [[ "${1:-}" == "--test" ]]; then
  shift
  # Criterion (C unit tests), pgTAP (SQL tests), promtool (metrics format),
  # wrk (load), curl (scripts), Chromium (the pages' browser tests, driven
  # by npm playwright-core); Node.js runs the black-box HTTP tests (any
  # Node >= 18 will do, so Debian's is installed only when the machine has none).
  # clang and its sanitizer runtimes: the short fuzzing layer (scripts/fuzz.sh);
  # jq: the fault tests read their records with it.
  # PgBouncer: bookd through it in transaction mode (tests/db/pgbouncer_test.sh,
  # make bench), each a PgBouncer of its own (the package's service, where
  # systemd starts it, listens on localhost:6432 with no database).
  # Patroni and etcd: `make soak` fails over a two-node cluster
  # (scripts/patroni_soak.sh; psycopg2 and python-etcd come with patroni).
  packages+=(libcriterion-dev postgresql-15-pgtap curl prometheus wrk chromium fonts-dejavu-core
             clang libclang-rt-14-dev jq patroni etcd-server pgbouncer)
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
  # The install layer (tests/tools/install_test.sh): groff renders the man
  # page, python3 plays systemd's end of sd_notify.
  packages+=(groff-base python3)
fi
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "bookd needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
