#!/usr/bin/env bash
# The typed client, end to end: start the service on a fresh database, check that the
# committed src/schema.d.ts is what openapi-typescript makes of the service's
# /openapi.json, then npm ci, tsc --noEmit (strict), tsc, and the journey (src/journey.ts)
# as a freshly registered admin promoted with the CLI.
#   clients/typescript/run-journey.sh                  (PostgreSQL from .env.test's server)
#   clients/typescript/run-journey.sh --update-schema  (rewrite src/schema.d.ts, then go on)
#   STOREFRONT_BIN=/path/to/storefront clients/typescript/run-journey.sh
set -euo pipefail
# STOREFRONT_BIN is taken relative to where the script was started from.
if [[ -n "${STOREFRONT_BIN:-}" && "$STOREFRONT_BIN" != /* ]]; then
    STOREFRONT_BIN="$PWD/$STOREFRONT_BIN"
fi
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)

update_schema=0
case "${1:-}" in
    "") ;;
    --update-schema) update_schema=1 ;;
    *) echo "usage: $0 [--update-schema]" >&2; exit 2 ;;
esac

bin=${STOREFRONT_BIN:-../../target/debug/storefront}
if [[ ! -x "$bin" ]]; then
    echo "no storefront binary at $bin: run \`cargo build\` or set STOREFRONT_BIN" >&2
    exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

server_url=$(grep -E '^DATABASE_URL=' "$repo/.env.test" | cut -d= -f2- | sed -E 's#/[^/?]*(\?.*)?$##')
db="storefront_client_$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
fresh_schema=$(mktemp --suffix=.d.ts)
log=$(mktemp)
server=

cleanup() {
    if [[ -n "$server" ]]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    psql -q "$server_url/postgres" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true
    rm -f "$fresh_schema" "$log"
}
trap cleanup EXIT

export DATABASE_URL="$server_url/$db"
# A payment window, so orders carry a deadline (payment_due_at) the journey can check.
BIND_ADDR="127.0.0.1:$port" ORDER_PAYMENT_WINDOW_SECS=1800 RUST_LOG=warn "$bin" serve >"$log" 2>&1 &
server=$!
for _ in $(seq 150); do
    curl -sf "$base/health/ready" >/dev/null && break
    if ! kill -0 "$server" 2>/dev/null; then break; fi
    sleep 0.2
done
if ! curl -sf "$base/health/ready" >/dev/null; then
    echo "storefront did not become ready on $base; its log:" >&2
    cat "$log" >&2
    exit 1
fi
echo "storefront ready on $base (database $db)"

npm ci --no-audit --no-fund --loglevel=error

npx --no-install openapi-typescript "$base/openapi.json" --output "$fresh_schema"
if ! diff -u src/schema.d.ts "$fresh_schema" >/dev/null; then
    if ((update_schema)); then
        cp "$fresh_schema" src/schema.d.ts
        echo "src/schema.d.ts rewritten from $base/openapi.json"
    else
        diff -u --label 'src/schema.d.ts (committed)' --label "src/schema.d.ts (from the service)" \
            src/schema.d.ts "$fresh_schema" | head -n 60 >&2 || true
        cat >&2 <<MSG

src/schema.d.ts is stale: the service's /openapi.json has changed. Regenerate it with
    clients/typescript/run-journey.sh --update-schema
or, against a running service,
    cd clients/typescript && OPENAPI_URL=http://127.0.0.1:8080/openapi.json npm run generate
and commit the result.
MSG
        exit 1
    fi
else
    echo "src/schema.d.ts is current"
fi

echo "tsc --noEmit (strict)"
npm run --silent typecheck
echo "tsc -> dist/"
npm run --silent build

admin=journey_admin
admin_password="correct horse admin $$"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/users" \
    -H 'content-type: application/json' \
    -d "{\"username\":\"$admin\",\"email\":\"$admin@example.com\",\"password\":\"$admin_password\"}")
if [[ "$status" != 201 ]]; then
    echo "registering the admin account answered $status, not 201" >&2
    exit 1
fi
"$bin" admin promote "$admin" >/dev/null

STOREFRONT_URL="$base" STOREFRONT_ADMIN_LOGIN="$admin" STOREFRONT_ADMIN_PASSWORD="$admin_password" \
    npm run --silent journey
