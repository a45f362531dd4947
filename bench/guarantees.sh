#!/usr/bin/env bash
# What each of the booking's guarantees costs, next to the original design:
# bench/fn_vs_peer.sh with copies of the bookd database that each lack one
# guarantee, and one that lacks all four (bench/HISTORY.md, step 59).
#
#   DATABASE_URL=<bookd database> PEER_URL=<the original's database>
#   bench/guarantees.sh
#
# The copies (CREATE DATABASE ... TEMPLATE, so nothing may be connected to
# the bookd database meanwhile; dropped again at the end):
#   no_audit  the audit entry, which is also the event deliveries start
#             from (bk_record_booked does nothing)
#   no_locks  the bucket locks (bk_take_bucket_locks takes none)
#   no_excl   the exclusion constraint, the last line against overlaps
#   no_fkeys  the foreign keys of appointments and audit_logs
#   no_four   none of the four
# Measurement only: without them a booking is not what DESIGN.md promises.
# Every database starts empty (FRESH=1); ROUNDS, BENCH_SECONDS, CLIENTS and
# BENCH_ORGS as fn_vs_peer.sh takes them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${DATABASE_URL:?the bookd database}" "${PEER_URL:?the database of the original design}"
db=$(psql -X -q -t -A "$DATABASE_URL" -c 'SELECT current_database()')
admin=${DATABASE_URL/dbname=$db/dbname=postgres}
[[ $admin != "$DATABASE_URL" ]] || { echo "bench/guarantees.sh: DATABASE_URL needs dbname=" >&2; exit 1; }

declare -A change
change[no_audit]="CREATE OR REPLACE FUNCTION bk_record_booked(p_org_id uuid, p_actor text,
    p_appt public.appointments, p_from uuid) RETURNS void LANGUAGE plpgsql AS \$\$ BEGIN END \$\$"
change[no_locks]="CREATE OR REPLACE FUNCTION bk_take_bucket_locks(p_keys bigint[],
    p_from timestamptz, p_to timestamptz, p_start timestamptz, p_end timestamptz,
    p_timeout_ms int, p_org_id uuid, p_provider_id uuid, p_exclude_id uuid)
    RETURNS bigint LANGUAGE plpgsql AS \$\$ BEGIN RETURN 0; END \$\$"
change[no_excl]="ALTER TABLE appointments DROP CONSTRAINT appointments_no_overlap"
change[no_fkeys]="DO \$\$ DECLARE r record; BEGIN
    FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
              WHERE contype = 'f' AND conrelid IN ('appointments'::regclass, 'audit_logs'::regclass)
    LOOP EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname); END LOOP; END \$\$"
variants=(no_audit no_locks no_excl no_fkeys no_four)

made=()
cleanup() {
  for d in "${made[@]}"; do psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $d" || true; done
}
trap cleanup EXIT
sides=()
for v in "${variants[@]}"; do
  copy=${db}_$v
  PGOPTIONS="-c client_min_messages=warning" psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $copy" \
    -c "CREATE DATABASE $copy TEMPLATE $db"
  made+=("$copy")
  url=${DATABASE_URL/dbname=$db/dbname=$copy}
  if [[ $v == no_four ]]; then
    for c in no_audit no_locks no_excl no_fkeys; do psql -X -q -v ON_ERROR_STOP=1 "$url" -c "${change[$c]}"; done
  else
    psql -X -q -v ON_ERROR_STOP=1 "$url" -c "${change[$v]}"
  fi
  sides+=("$v=$url")
done
FRESH=1 "$root/bench/fn_vs_peer.sh" "${sides[@]}"
