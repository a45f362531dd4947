#!/usr/bin/env bash
# Secrets at rest, on a database of its own (its secrets are sealed under
# keys no other layer uses): a webhook's signing key is stored sealed, not
# in the clear; bookd refuses to start without the key or with another one;
# `bookd secrets rotate` re-seals every secret under the new key, in one go
# and again harmlessly; with the new key the webhook is signed as before.
# Prints TAP.
#   tests/db/secrets_test.sh BOOKD_BINARY     (DATABASE_URL set)
set -uo pipefail
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
db="secrets_test_$$"
source "$(dirname "$0")/lib.sh"
export DATABASE_URL="$DATABASE_URL dbname=$db"
admin_url=${DATABASE_URL% dbname=*}
receiver=
cleanup() {
  stop_bookd
  [[ -n "$receiver" ]] && kill "$receiver" 2>/dev/null && wait "$receiver" 2>/dev/null
  psql -X -q "$admin_url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
# The exit status of a bookd expected to refuse to start, waited for 10 s at
# most: one that starts after all is stopped and counts as 0 (started).
exit_status() {
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then stop_bookd; return 0; fi
  wait "$pid"
  local rc=$?
  pid=
  return $rc
}
key1=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
key2=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')

echo "1..12"
psql -X -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null
"$bookd" migrate >"$work/migrate.log" 2>&1 || cat "$work/migrate.log"

# A receiver that writes each request's headers and body, one JSON a line.
node -e '
  const http = require("node:http"), fs = require("node:fs");
  const s = http.createServer((req, res) => {
    let b = ""; req.on("data", (c) => (b += c));
    req.on("end", () => { fs.appendFileSync(process.argv[1], JSON.stringify({ h: req.headers, b }) + "\n"); res.end(); });
  });
  s.listen(0, "127.0.0.1", () => console.log(s.address().port));
  setTimeout(() => process.exit(0), 120000);' "$work/received" >"$work/port" &
receiver=$!
for _ in $(seq 50); do [[ -s "$work/port" ]] && break; sleep 0.1; done

start_bookd BOOKD_ADMIN_TOKEN=secrets-token BOOKD_SECRET_KEY=$key1 BOOKD_WEBHOOK_ALLOW_PRIVATE=true \
  BOOKD_OUTBOX_POLL_MS=100 BOOKD_TWILIO_API_BASE="http://127.0.0.1:$(cat "$work/port")"
org=$(curl -s -X POST "$base/api/orgs" -H 'Authorization: Bearer secrets-token' \
  -H 'Content-Type: application/json' -d '{"name":"Secrets","timezone":"UTC"}')
key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
endpoint=$(curl -s -X POST "$base/api/webhook-endpoints" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d "{\"url\":\"http://127.0.0.1:$(cat "$work/port")/hook\",\"events\":[\"appointment.booked\"]}")
secret=$(sed -n 's/.*"secret":"\(whsec_[^"]*\)".*/\1/p' <<<"$endpoint")
plain_hex=$(printf '%s' "${secret#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
stored=$(q "SELECT encode(secret, 'hex') FROM webhook_endpoints")
[[ -n "$plain_hex" && -n "$stored" && "$stored" != *"$plain_hex"* &&
   $(q "SELECT count(*) FROM webhook_endpoints WHERE position('$secret' IN encode(secret, 'escape')) > 0") == 0 ]]
ok $? "the signing key is stored sealed: neither its bytes nor its whsec_ form are in the row"
twilio_token=tw-auth-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
curl -s -o /dev/null -X PUT "$base/api/integrations/twilio" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d "{\"accountSid\":\"AC0123\",\"authToken\":\"$twilio_token\",\"fromNumber\":\"+15550009999\",\"reminderHoursBefore\":0}"
[[ $(q "SELECT count(*) FROM integrations WHERE kind = 'twilio'") == 1 &&
   $(q "SELECT count(*) FROM integrations WHERE position('$twilio_token' IN encode(secret, 'escape')) > 0") == 0 ]]
ok $? "an integration's credentials are stored sealed too"
stop_bookd

start_bookd BOOKD_ADMIN_TOKEN=secrets-token BOOKD_SECRET_KEY=
exit_status; rc=$?
[[ $rc -ne 0 ]] && grep -q '"secrets.no_key"' "$work/log"
ok $? "without BOOKD_SECRET_KEY, bookd serve refuses to start (exit $rc) and says why"
start_bookd BOOKD_ADMIN_TOKEN=secrets-token BOOKD_SECRET_KEY=$key2
exit_status; rc=$?
[[ $rc -ne 0 ]] && grep -q '"secrets.other_key"' "$work/log"
ok $? "with another key than the secrets are sealed under, it refuses too"
BOOKD_SECRET_KEY=$key2 "$bookd" worker >"$work/worker.log" 2>&1
[[ $? -ne 0 ]] && grep -q '"secrets.other_key"' "$work/worker.log"
ok $? "and so does bookd worker"

BOOKD_SECRET_KEY=$key1 BOOKD_NEW_SECRET_KEY=$key2 "$bookd" secrets rotate >"$work/rotate" 2>&1
[[ $? -eq 0 ]] && grep -q '^re-sealed 2 secrets' "$work/rotate"
ok $? "bookd secrets rotate re-seals both secrets (the webhook's and Twilio's)"
[[ $(q "SELECT encode(secret, 'hex') FROM webhook_endpoints") != "$stored" ]]
ok $? "the stored value changed"
BOOKD_SECRET_KEY=$key1 BOOKD_NEW_SECRET_KEY=$key2 "$bookd" secrets rotate >"$work/rotate2" 2>&1
[[ $? -eq 0 ]] && grep -q '^re-sealed 0 secrets' "$work/rotate2"
ok $? "run again, it finds nothing left to re-seal"

start_bookd BOOKD_ADMIN_TOKEN=secrets-token BOOKD_SECRET_KEY=$key1
exit_status; rc=$?
[[ $rc -ne 0 ]]
ok $? "after the rotation the old key no longer starts bookd"

start_bookd BOOKD_ADMIN_TOKEN=secrets-token BOOKD_SECRET_KEY=$key2 BOOKD_WEBHOOK_ALLOW_PRIVATE=true \
  BOOKD_OUTBOX_POLL_MS=100 BOOKD_TWILIO_API_BASE="http://127.0.0.1:$(cat "$work/port")"
contact=$(curl -s -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Rotated Patient","phone":"+15550001111"}' |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
curl -s -o /dev/null -X POST "$base/api/appointments" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d "{\"contactId\":\"$contact\",\"scheduledAt\":\"2031-05-05T10:00:00Z\",\"durationMinutes\":30}"
for _ in $(seq 100); do [[ -s "$work/received" && $(wc -l <"$work/received") -ge 2 ]] && break; sleep 0.1; done
node -e '
  const crypto = require("node:crypto"), fs = require("node:fs");
  const [file, secret] = process.argv.slice(1);
  const lines = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const { h, b } = lines.find((r) => r.h["webhook-signature"]);
  const key = Buffer.from(secret.slice(6), "base64");
  const want = "v1," + crypto.createHmac("sha256", key).update(`${h["webhook-id"]}.${h["webhook-timestamp"]}.${b}`).digest("base64");
  process.exit(h["webhook-signature"] === want && JSON.parse(b).type === "appointment.booked" ? 0 : 1);
' "$work/received" "$secret"
ok $? "with the new key, the webhook arrives signed with the secret shown at creation"
grep -q "\"authorization\":\"Basic $(printf 'AC0123:%s' "$twilio_token" | base64 -w0)\"" "$work/received"
ok $? "and the SMS goes out with the Twilio credentials put before the rotation"
stop_bookd
! grep -qE "$key1|$key2|${secret#whsec_}|$twilio_token" "$work/log" "$work/worker.log" "$work/rotate" "$work/rotate2"
ok $? "no key and no secret in bookd's logs or output"
