# shellcheck shell=bash disable=SC2154 # bookd and work: set by the sourcing script
# The HTTP race scenarios of tests/http/races.test.mjs across several bookd
# processes, held against the database afterwards; shared by
# instances_test.sh and pgbouncer_test.sh. Source it after tests/db/lib.sh,
# with `bookd`, `work` and DATABASE_URL (the owner's, for the checks) set.

# races_over URL INSTANCES SERVER_ENV_JSON [SCALE]: runs the races with their
# requests split across INSTANCES `bookd serve` processes connected to URL
# (node starts them, as the role BOOKD_TEST_APP_USER names when set), SCALE
# times the races' usual counts; then checks, in SQL:
#   - each race passed (one TAP line each, as node reported it);
#   - no two active rows (confirmed appointments, unexpired holds) of one
#     provider overlap: a self-join on the ranges, not the constraint's word;
#   - every appointment answered 201 is stored and confirmed, and no other
#     appointment is; every hold answered 201 is stored;
#   - every instance answered bookings (the requests were split).
# Seven TAP lines.
races_over() {
  local url=$1 instances=$2 env=$3 scale=${4:-1} record=$work/races.json rc
  rm -f "$record"
  (cd tests/http && DATABASE_URL=$url BOOKD_BIN=$bookd RACE_INSTANCES=$instances \
    RACE_SERVER_ENV=$env RACE_SCALE=$scale RACE_RECORD=$record \
    node --test --test-reporter=tap races.test.mjs >"$work/races.tap" 2>&1)
  rc=$?
  # node's top-level results, one line each, and its diagnostics.
  local lines
  lines=$(grep -cE '^(not )?ok [0-9]+ - ' "$work/races.tap")
  while IFS= read -r line; do
    if [[ $line =~ ^ok\ [0-9]+\ -\ (.*)$ ]]; then
      ok 0 "$instances instances: ${BASH_REMATCH[1]}"
    elif [[ $line =~ ^not\ ok\ [0-9]+\ -\ (.*)$ ]]; then
      ok 1 "$instances instances: ${BASH_REMATCH[1]}"
    fi
  done < <(grep -E '^(not )?ok [0-9]+ - ' "$work/races.tap")
  grep -E '^# (pairs|storm)' "$work/races.tap"
  # What a failed race said (node's YAML block under its line).
  awk '/^not ok [0-9]+ - / { n = 16 } n-- > 0 && !/^not ok/ { print "# " $0 }' "$work/races.tap" |
    grep -vE 'duration_ms|location|failureType|^# +(stack|at )' | head -n 40
  for _ in $(seq $(( lines < 3 ? 3 - lines : 0 ))); do ok 1 "a race did not run (node exit $rc)"; done
  if [[ ! -s "$record" ]]; then
    tail -n 20 "$work/races.tap" | sed 's/^/# /'
    for _ in 1 2 3 4; do ok 1 "no record of the races' answers to check"; done
    return
  fi

  local org appts holds n_appts n_holds
  org=$(jq -r .orgId "$record")
  appts=$(jq -r '"{" + (.appointments | join(",")) + "}"' "$record")
  holds=$(jq -r '"{" + (.holds | join(",")) + "}"' "$record")
  n_appts=$(jq '.appointments | length' "$record")
  n_holds=$(jq '.holds | length' "$record")

  local overlaps
  overlaps=$(q "SELECT count(*) FROM appointments a JOIN appointments b
      ON b.org_id = a.org_id AND b.provider_id = a.provider_id AND a.id < b.id
     AND tstzrange(a.buffered_start, a.buffered_end, '[)')
         && tstzrange(b.buffered_start, b.buffered_end, '[)')
   WHERE a.org_id = '$org'
     AND (a.status = 'confirmed' OR (a.status = 'held' AND a.expires_at > now()))
     AND (b.status = 'confirmed' OR (b.status = 'held' AND b.expires_at > now()))")
  [[ $overlaps == 0 ]]
  ok $? "$instances instances: no two active rows of a provider overlap (SQL self-join: $overlaps pairs)"

  local stored confirmed
  stored=$(q "SELECT count(*) FROM appointments WHERE org_id = '$org' AND status = 'confirmed'
                 AND id = ANY('$appts'::uuid[])")
  confirmed=$(q "SELECT count(*) FROM appointments WHERE org_id = '$org' AND status = 'confirmed'")
  [[ $stored == "$n_appts" && $confirmed == "$n_appts" && $n_appts -gt 0 ]]
  ok $? "$instances instances: every appointment answered 201 is stored, and nothing else ($n_appts answered, $stored of them stored, $confirmed confirmed)"

  stored=$(q "SELECT count(*) FROM appointments WHERE org_id = '$org' AND status = 'held'
                 AND id = ANY('$holds'::uuid[])")
  [[ $stored == "$n_holds" && $n_holds -gt 0 ]]
  ok $? "$instances instances: every hold answered 201 is stored ($n_holds answered, $stored stored)"

  local served
  served=$(jq -r '[.answered[]? | .["201"] // 0] | map(tostring) | join(" ")' "$record")
  [[ $(wc -w <<<"$served") == "$instances" && ! " $served " =~ \ 0\  ]]
  ok $? "$instances instances: each answered bookings (201s by instance: $served)"
}
