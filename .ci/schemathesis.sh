#!/usr/bin/env bash
# Contract fuzzing: run schemathesis against a live `roster serve` built from
# this tree, once on SQLite and once on PostgreSQL, authenticated as an owner
# whose organization has a team, a service and a channel. Any 5xx, undocumented
# status, wrong content type or body that does not match /openapi.json fails.
#
#   .ci/schemathesis.sh                 # both backends
#   FUZZ_BACKENDS=sqlite .ci/schemathesis.sh
#   FUZZ_MAX_EXAMPLES=100 FUZZ_SEED=7 FUZZ_PHASES=fuzzing .ci/schemathesis.sh
#   .ci/schemathesis.sh --include-path-regex '^/v1/customer/totp' --continue-on-failure
#                                       # extra arguments go to `st run`
#
# Needs schemathesis (python3 -m pip install -r .ci/requirements-fuzz.txt), python3, and for
# PostgreSQL `psql` reaching 127.0.0.1:5432 as `postgres` with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${ROSTER_BIN:-${CARGO_TARGET_DIR:-target}/debug/roster}
SEED=${FUZZ_SEED:-20261122}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-40}
BACKENDS=${FUZZ_BACKENDS:-sqlite postgres}
PG_ADMIN_URL=${FUZZ_PG_URL:-postgres://postgres@127.0.0.1:5432}
REPORT_ROOT=${FUZZ_REPORT_DIR:-target/schemathesis}

CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
# All four phases. `coverage` (boundary values, missing bodies, wrong types) can
# die with "AST constructor recursion depth mismatch" when two workers build
# Hypothesis filters at once (a CPython ast race, docs/fuzzing.md): hence one worker.
PHASES=${FUZZ_PHASES:-examples,coverage,fuzzing,stateful}

# Operations that would end the fuzzer's own credentials halfway through the run,
# after which every later request is a 401 and nothing more is tested:
EXCLUDE=(
  --exclude-operation-id delete_customer # DELETE /v1/customer: deletes the caller, their API key and their organization
  --exclude-operation-id revoke_api_key  # DELETE /v1/api-keys/{id}: the stateful phase follows GET /v1/api-keys to the id of the key in use
)
# Refuse API keys (they act on the login itself), so they get a pass of their own
# with the session token. None can end the session without the current password
# or a TOTP code, which the fuzzer does not have; POST /v1/auth/logout is not here.
SESSION_ONLY='^/v1/customer/(password|totp)'

# Kept in, because they cannot lock the caller out: POST /v1/auth/logout (the
# fuzzer calls with an API key, which has no session to end: 422), and those that
# need a secret the fuzzer does not have: PUT/PATCH /v1/customer/username (the change waits for a code
# mailed to the new address), PUT /v1/customer/password (needs the current
# password), POST/DELETE /v1/customer/totp and …/totp/confirm (need a TOTP code),
# PUT /v1/customer/status (availability only), PUT /v1/members/{id}/active and
# DELETE /v1/members/{id} (refused for the caller's own id). The check after
# the run fails the stage if the key stopped working anyway.

# The module rather than the `st` script: it is on no PATH question, and it is the
# one the python3 that ran `pip install` sees.
ST=(python3 -m schemathesis.cli)
"${ST[@]}" --version >/dev/null 2>&1 || { echo "schemathesis is not installed: python3 -m pip install -r .ci/requirements-fuzz.txt" >&2; exit 2; }
if [ ! -x "$BIN" ]; then
  cargo build -p roster-server --bin roster
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SERVER_PID=
PG_DB=
WORK=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=
  if [ -n "$PG_DB" ]; then psql -q "$PG_ADMIN_URL/postgres" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null || true; fi
  PG_DB=
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  WORK=
}
trap cleanup EXIT

# Signs up (reading the code from the server log, where the log transport
# writes every email), creates an every-scope API key and seeds a team, a
# service and two channels; prints the API key's secret and the session token,
# and writes a schemathesis config that feeds the seeded ids into most path
# parameters (the rest stay random), so the fuzzer gets past the 404s into the handlers.
seed() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, re, sys, time, urllib.request

base, config_path, server_log = sys.argv[1], sys.argv[2], sys.argv[3]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")

call("POST", "/v1/auth/signup", {"email": "fuzz-owner@example.com", "password": "fuzz-password-1",
                                "name": "Fuzz", "surname": "Owner", "organization_name": "Fuzz Org"})

def signup_code(deadline=time.monotonic() + 30):
    # The signup_code template's text part: "... enter this code:" then the six digits.
    while time.monotonic() < deadline:
        with open(server_log, encoding="utf-8", errors="replace") as f:
            found = re.search(r'fuzz-owner@example\.com.*?enter this code:(?:\s|\\n)*(\d{6})', f.read(), re.S)
        if found:
            return found.group(1)
        time.sleep(0.2)
    sys.exit("no sign-up code for fuzz-owner@example.com in " + server_log)

s = call("POST", "/v1/auth/signup/confirm", {"email": "fuzz-owner@example.com", "code": signup_code()})
session, me = s["token"], s["customer_id"]
scopes = ["customers:read", "customers:write", "organization:read", "organization:write", "teams:read",
          "teams:write", "services:read", "services:write", "channels:read", "channels:write", "api-keys:read",
          "api-keys:write", "deliveries:read", "deliveries:write", "notify", "audit:read"]
key = call("POST", "/v1/api-keys", {"name": "schemathesis", "scopes": scopes}, session)
team = call("POST", "/v1/team", {"name": "Fuzz Team"}, session)["team_id"]
service = call("POST", "/v1/service", {"name": "Fuzz Service", "team_id": team}, session)["service_id"]
call("POST", "/v1/team/%s/notification-channel" % team, {"type": "email", "value": "fuzz-team@example.com"}, session)
call("POST", "/v1/customer/%s/notification-channel" % me, {"type": "email", "value": "fuzz-owner@example.com"}, session)
# The key must work before fuzzing starts, or every result below is a 401.
call("GET", "/v1/customer", token=key["secret"])

# Deleting the seeded team or service would turn the rest of the run into 404s:
# those two keep random ids (the stateful phase deletes what it creates itself).
def bind(regex, param, dictionary):
    return ('[[operations]]\ninclude-path-regex = %s\n'
            'exclude-name = ["DELETE /v1/team/{id}", "DELETE /v1/service/{id}"]\n'
            'parameters = { "path.%s" = { dictionary = "%s", probability = 0.8 } }\n') % (json.dumps(regex), param, dictionary)

with open(config_path, "w") as f:
    # No state carried over from earlier local runs: CI and a local rerun see the same cases.
    f.write("[cache]\nenabled = false\n\n[dictionaries]\n")
    for name, value in (("team", team), ("customer", me), ("service", service)):
        f.write('%s = { values = ["%s"] }\n' % (name, value))
    f.write(bind(r"^/v1/team/\{id\}", "id", "team"))
    f.write(bind(r"^/v1/team/\{id\}/member/", "memberId", "customer"))
    f.write(bind(r"^/v1/customer/\{id\}", "id", "customer"))
    f.write(bind(r"^/v1/customer/\{customer_id\}$", "customer_id", "customer"))
    f.write(bind(r"^/v1/(service|team-service)/\{id\}", "id", "service"))
print(key["secret"], session)
PY
}

# fuzz BACKEND LABEL BASE TOKEN REPORT_DIR [st run arguments…]
fuzz() {
  local backend=$1 label=$2 base=$3 token=$4 dir=$5
  shift 5
  mkdir -p "$dir"
  printf '\n==> schemathesis on %s with the %s (%s)\n' "$backend" "$label" "$base"
  "${ST[@]}" --config-file "$WORK/schemathesis.toml" run "$base/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks "$CHECKS" \
    --phases "$PHASES" \
    --seed "$SEED" \
    --max-examples "$MAX_EXAMPLES" \
    --generation-database none \
    --workers 1 \
    --request-timeout 30 \
    --no-color \
    --report junit,ndjson \
    --report-dir "$dir" \
    "$@" "${EXTRA_ARGS[@]}"
}

run_backend() {
  local backend=$1 port db_url report started rc=0
  WORK=$(mktemp -d)
  port=$(free_port)
  report="$REPORT_ROOT/$backend"
  rm -rf "$report" && mkdir -p "$report"
  case "$backend" in
    sqlite) db_url="sqlite://$WORK/roster.db" ;;
    postgres)
      PG_DB="roster_fuzz_$$_$port"
      psql -q "$PG_ADMIN_URL/postgres" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null || return 1
      db_url="$PG_ADMIN_URL/$PG_DB"
      ;;
    *) echo "unknown backend $backend" >&2; return 2 ;;
  esac

  # Limits are raised so the fuzzer measures the contract rather than the
  # throttles (the 429s are documented and tested elsewhere). No SMTP URL: the
  # log transport writes each email to the log (roster::mail), where seed() reads
  # the sign-up code.
  ROSTER_DATABASE_URL="$db_url" \
  ROSTER_DATA_DIR="$WORK" \
  ROSTER_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))') \
  ROSTER_LOG_LEVEL=warn,roster::mail=info \
  ROSTER_SIGNUP_MAX_PER_IP=100000 \
  ROSTER_SIGNUP_MAX_PER_EMAIL=100000 \
  ROSTER_LOGIN_MAX_PER_IP=100000 \
  ROSTER_LOGIN_MAX_FAILURES=100000 \
  ROSTER_PASSWORD_RESET_MAX_PER_IP=100000 \
  ROSTER_PASSWORD_RESET_MAX_PER_EMAIL=100000 \
  ROSTER_NOTIFY_PER_MINUTE=100000 \
  ROSTER_CODE_SENDS_PER_HOUR=100000 \
  ROSTER_CHANNELS__CODE_SENDS_PER_HOUR=100000 \
  ROSTER_CHANNELS__TEST_SENDS_PER_HOUR=100000 \
    env -u RUST_LOG "$BIN" serve --listen "127.0.0.1:$port" >"$report/server.log" 2>&1 &
  SERVER_PID=$!

  local base="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "roster exited at start ($backend):" >&2; cat "$report/server.log" >&2; return 1; }
    sleep 0.2
  done
  curl -fsS "$base/readyz" >/dev/null || { echo "roster never became ready ($backend)" >&2; return 1; }

  # run_backend is called under `||`, where `set -e` does not apply: check by hand.
  local key session seeded
  seeded=$(seed "$base" "$WORK/schemathesis.toml" "$report/server.log") || { echo "seeding the $backend server failed" >&2; return 1; }
  read -r key session <<<"$seeded"
  [ -n "$key" ] && [ -n "$session" ] || { echo "seeding the $backend server gave no credentials" >&2; return 1; }

  started=$(date +%s)
  # Everything with the API key; then, with the session token, the operations
  # that answer an API key with 422 `not_a_session` and so were barely exercised.
  fuzz "$backend" "API key" "$base" "$key" "$report/api-key" "${EXCLUDE[@]}" || rc=1
  fuzz "$backend" "session" "$base" "$session" "$report/session" --include-path-regex "$SESSION_ONLY" || rc=1
  # A run that lost its credentials passes on 401s alone: make that a failure.
  for token in "$key" "$session"; do
    if ! curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$base/v1/customer"; then
      echo "a credential stopped working during the $backend run: later results are 401s; exclude the operation that ended it" >&2
      rc=1
    fi
  done
  echo "schemathesis on $backend: $([ "$rc" = 0 ] && echo passed || echo FAILED) in $(($(date +%s) - started)) s; reports in $report (server log: $report/server.log)"
  cleanup
  return "$rc"
}

EXTRA_ARGS=("$@")
failed=0
for backend in $BACKENDS; do
  run_backend "$backend" || failed=1
done
exit "$failed"
