#!/usr/bin/env bash
# The private development PostgreSQL under .bookd/pg (or $BOOKD_PG_DIR).
#   scripts/devdb.sh start|stop|status|url|app-url
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/pglib.sh"
dir=${BOOKD_PG_DIR:-$(cd "$here/.." && pwd)/.bookd/pg}

case ${1:-} in
  start)  pg_start "$dir" durable && echo "PostgreSQL ready: $(pg_conninfo "$dir")" >&2 ;;
  stop)   pg_stop "$dir" ;;
  status) if pg_is_running "$dir"; then echo running; else echo stopped; exit 3; fi ;;
  url)    pg_conninfo "$dir" ;;     # the owner's: migrations
  app-url) pg_app_conninfo "$dir" ;; # bookd_app's: serving
  *)      echo "usage: $0 start|stop|status|url|app-url" >&2; exit 2 ;;
esac
