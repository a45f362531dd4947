#!/usr/bin/env bash
# `make run`: a working bookd on this machine in one command. Uses
# $DATABASE_URL when set, else a private PostgreSQL under .bookd/pg;
# migrates; creates a demo organization on first start and prints its keys;
# serves on $BOOKD_LISTEN (default 127.0.0.1:8080).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .bookd

# Migrations run as the schema's owner; bookd serves as a role that may
# only execute the API functions (docs/design.md, "Least privilege"): on
# the private cluster, bookd_app. With DATABASE_URL set, BOOKD_SERVE_URL
# names the serving role's connection (default: DATABASE_URL itself).
if [[ -z "${DATABASE_URL:-}" ]]; then
  scripts/devdb.sh start
  DATABASE_URL=$(scripts/devdb.sh url)
  serve_url=$(scripts/devdb.sh app-url)
fi
serve_url=${BOOKD_SERVE_URL:-${serve_url:-$DATABASE_URL}}
export DATABASE_URL
export BOOKD_LISTEN=${BOOKD_LISTEN:-127.0.0.1:8080}
if [[ -z "${BOOKD_ADMIN_TOKEN:-}" ]]; then
  BOOKD_ADMIN_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  generated_token=yes
fi
export BOOKD_ADMIN_TOKEN
# The key that seals stored secrets (webhook signing keys, integration
# tokens): made once, kept readable by this user only, and used again at
# every start (a new one could not open what the old one sealed).
if [[ -z "${BOOKD_SECRET_KEY:-}" ]]; then
  if [[ ! -s .bookd/secret_key ]]; then
    (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > .bookd/secret_key.tmp)
    mv .bookd/secret_key.tmp .bookd/secret_key
  fi
  BOOKD_SECRET_KEY=$(cat .bookd/secret_key)
  secret_key_note="kept in .bookd/secret_key"
fi
export BOOKD_SECRET_KEY

build/bookd migrate

# The demo organization's keys are shown once by bookd; keep them (readable
# by this user only) so every `make run` on this database can print them.
demo=.bookd/demo-$(printf '%s' "$DATABASE_URL" | sha256sum | cut -c1-12).json
field() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$demo"; }
# A database that was reset no longer has the organization the file names:
# only then is the file replaced. When the question cannot be asked (psql
# fails, the file is unreadable), the keys are kept and the fact said.
if [[ -s "$demo" ]]; then
  demo_id=$(field id)
  if ! [[ "$demo_id" =~ ^[0-9a-f-]{36}$ ]]; then
    echo "run: $demo does not name an organization; keeping it, making a new one" >&2
    mv "$demo" "$demo.unreadable"
  elif found=$(psql -X -q -t -A -v ON_ERROR_STOP=1 -v id="$demo_id" "$DATABASE_URL" \
                 <<<"SELECT count(*) FROM organizations WHERE id = :'id'" 2>/dev/null); then
    [[ "$found" == "0" ]] && rm -f "$demo"
  else
    echo "run: could not check whether the demo organization still exists; keeping $demo" >&2
  fi
fi
if [[ ! -s "$demo" ]]; then
  (umask 077; build/bookd org create "Demo Clinic" "Europe/London" > "$demo.tmp")
  mv "$demo.tmp" "$demo"
fi
base="http://$BOOKD_LISTEN"

cat <<INFO

bookd is starting on $base
  database        ${serve_url}   (migrated as: ${DATABASE_URL})
  admin token     ${BOOKD_ADMIN_TOKEN}${generated_token:+   (generated; set BOOKD_ADMIN_TOKEN to choose one)}
  secret key      ${secret_key_note:-from BOOKD_SECRET_KEY} (seals stored secrets; back it up)

Demo organization "Demo Clinic" (Europe/London), keys kept in $demo:
  admin key       $(field adminKey)
  public key      $(field publicKey)
  vapi secret     $(field vapiSecret)

Open in a browser:
  booking page    $base/book/$(field id)
  dashboard       $base/admin   (sign in with the admin key above)

Try it:
  curl -s $base/health
  curl -s -X POST $base/api/contacts -H "Authorization: Bearer $(field adminKey)" \\
       -H 'Content-Type: application/json' -d '{"name":"Ada Patient","phone":"+447700900123"}'
  curl -s -X POST $base/api/appointments -H "Authorization: Bearer $(field adminKey)" \\
       -H 'Content-Type: application/json' \\
       -d '{"contactId":"<id from above>","scheduledAt":"2030-01-07T14:00:00Z","durationMinutes":30}'
  API document: $base/openapi.json    metrics: $base/metrics    readiness: $base/ready

Stop with Ctrl-C.
INFO
DATABASE_URL=$serve_url exec build/bookd serve
