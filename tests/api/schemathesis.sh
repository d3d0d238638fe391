#!/bin/bash
# Schemathesis against the live API: gunicorn with the test settings on a free local port, a
# throw-away SQLite database with the demo data, anna's token, a bounded number of examples.
# Checks: no 5xx, and every answer conforms to the OpenAPI schema. Run by .ci/run; about two
# minutes. API_FUZZ_PHASES=examples,coverage,fuzzing adds the (slower, ~3 min more) coverage phase.
set -euo pipefail
cd "$(dirname "$0")/../.."

work="$(mktemp -d)"
port="${API_FUZZ_PORT:-$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
export DJANGO_SETTINGS_MODULE=tests.settings KRAG_VAR_DIR="$work" ALLOWED_HOSTS=127.0.0.1
unset DATABASE_URL DEBUG
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

.venv/bin/python manage.py migrate --noinput >/dev/null
.venv/bin/python manage.py seed_demo --password demo-password >/dev/null

.venv/bin/gunicorn config.wsgi -b "127.0.0.1:$port" -w 2 --timeout 60 \
    --access-logfile /dev/null --error-logfile "$work/gunicorn.log" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$port/api/v1/schema/" -o "$work/schema.yaml" && break
    sleep 0.2
done

token="$(curl -fs -H 'Content-Type: application/json' \
    -d '{"username": "anna", "password": "demo-password"}' \
    "http://127.0.0.1:$port/api/v1/auth/token/" \
    | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["token"])')"

# Signing out would revoke the token the rest of the run uses; it is tested in tests/api.
# Run from the scratch folder: schemathesis keeps a cache of crashes in the working directory.
root="$PWD"
status=0
cd "$work"
"$root/.venv/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/schema/" \
    --url "http://127.0.0.1:$port" \
    -H "Authorization: Token $token" \
    --checks not_a_server_error,response_schema_conformance \
    --exclude-path /api/v1/auth/logout/ \
    --phases "${API_FUZZ_PHASES:-examples,fuzzing}" \
    --max-examples "${API_FUZZ_EXAMPLES:-20}" \
    --workers 2 \
    --request-timeout 20 \
    --seed 20261122 \
    --generation-database none \
    --no-color || status=$?
if [ "$status" != 0 ]; then
    echo "--- server log"; tail -n 80 "$work/gunicorn.log" "$work/server.log"
fi
exit "$status"
