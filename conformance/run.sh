#!/usr/bin/env bash
# Conformance against independent implementations of openapi/activitylog.json (issue 5).
#
#   prism         Stoplight Prism serves the spec as a mock that validates every request
#                 (422 for a parameter the spec forbids, 401 without credentials, 404 for a
#                 path it does not have). tests/tests/conformance.rs sends it every request the
#                 SDK and the CLI can make, through a recording proxy, and asserts none is refused.
#   schemathesis  schemathesis generates requests from the spec against the sandbox
#                 (`activitylog sandbox`) and checks every answer, in three passes:
#                   1. the upstream spec, Basic auth: response bodies, content types and headers
#                      exactly as the spec says (the sandbox's default data is spec-shaped);
#                   2. the spec with our wire-compatibility rules (`activitylog-codegen
#                      --normalized`: what the SDK is generated from), Bearer auth: all checks,
#                      status codes, auth and methods included;
#                   3. only the contract number varies, every other parameter valid: any integer
#                      must be answered 200 or 403.
#
# Usage: conformance/run.sh [prism] [schemathesis]     (no argument: both)
# Environment: ST_MAX_EXAMPLES (default 60 per operation and phase), ST_SEED (default 5).
#
# Needs cargo, Node.js >= 18.20.1 with npm (Prism), Python >= 3.11 with venv (schemathesis).
# Installs the pinned tools locally: conformance/node_modules (`npm ci` from package-lock.json)
# and conformance/.venv (pip, requirements.txt); both are reused while their pins are unchanged.
# Starts the servers on free ports of 127.0.0.1 and stops them on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
here=$root/conformance
target_dir=${CARGO_TARGET_DIR:-$root/target}
max_examples=${ST_MAX_EXAMPLES:-60}
seed=${ST_SEED:-5}

fail() {
    echo "conformance: error: $*" >&2
    exit 1
}

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(prism schemathesis)
for step in "${steps[@]}"; do
    [[ $step == prism || $step == schemathesis ]] ||
        fail "unknown step '$step'; usage: conformance/run.sh [prism] [schemathesis]"
done

pids=()
work=$(mktemp -d "${TMPDIR:-/tmp}/activitylog-conformance.XXXXXX")
cleanup() {
    local pid
    for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
    for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# await LOG REGEX PID SECONDS WHAT: waits until LOG has a line matching REGEX; sets $ready to
# the match. Fails (showing the log) if the process PID exits first or SECONDS pass.
await() {
    local log=$1 regex=$2 pid=$3 seconds=$4 what=$5 i
    for ((i = 0; i < seconds * 10; i++)); do
        if ready=$(grep -Eo -m1 "$regex" "$log" 2>/dev/null); then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$log" >&2
            fail "$what exited before it was ready"
        fi
        sleep 0.1
    done
    cat "$log" >&2
    fail "$what was not ready after ${seconds}s"
}

# status_of HOST:PORT PATH AUTHORIZATION: the status of one GET (bash's /dev/tcp; no curl needed).
status_of() {
    local line=""
    exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || return 1
    printf 'GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nAuthorization: %s\r\nConnection: close\r\n\r\n' \
        "$2" "$1" "$3" >&3
    IFS= read -r -t 20 line <&3 || true
    exec 3<&- 3>&-
    line=${line#HTTP/1.? }
    echo "${line%% *}"
}

# A short fingerprint of files, to reinstall only when a pin changes.
fingerprint() { cat "$@" | cksum | tr -d ' '; }

build() {
    echo "-- cargo build (the activitylog binary and the codegen)"
    cargo build --locked -q -p activitylog-cli -p activitylog-codegen
}

check_prism() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        fail "Node.js (>= 18.20.1) and npm are needed to run Stoplight Prism and were not found" \
            "on PATH. Install them (https://nodejs.org, or the distribution's nodejs and npm" \
            "packages) and rerun."
    fi
    node -e 'const [a, b, c] = process.versions.node.split(".").map(Number);
             process.exit(a > 18 || (a === 18 && (b > 20 || (b === 20 && c >= 1))) ? 0 : 1)' ||
        fail "Prism 5.14 needs Node.js >= 18.20.1; this is $(node --version)"
}

check_schemathesis() {
    command -v python3 >/dev/null 2>&1 ||
        fail "Python >= 3.11 (with the venv module) is needed for schemathesis and was not found" \
            "on PATH. Install it (Debian/Ubuntu: python3 python3-venv) and rerun."
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        fail "schemathesis 4.32 needs Python >= 3.11; this is $(python3 --version 2>&1)"
}

run_prism() {
    local stamp=$here/node_modules/.installed-from want
    want=$(fingerprint "$here/package.json" "$here/package-lock.json")
    if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
        echo "-- npm ci (conformance/package-lock.json)"
        (cd "$here" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
        echo "$want" >"$stamp"
    fi

    local log=$work/prism.log
    "$here/node_modules/.bin/prism" mock --host 127.0.0.1 --port 0 \
        "$root/openapi/activitylog.json" >"$log" 2>&1 </dev/null &
    pids+=("$!")
    await "$log" 'listening on http://127\.0\.0\.1:[0-9]+' "$!" 120 "Prism"
    local address=${ready#listening on http://}
    local status
    status=$(status_of "$address" /activitylog/v1 "Bearer probe") || true
    [[ $status == 200 ]] || { cat "$log" >&2; fail "Prism on $address answered '$status' to a probe"; }
    echo "-- Prism $("$here/node_modules/.bin/prism" --version) on http://$address"

    PRISM_URL=http://$address cargo test --locked -q -p activitylog-tests --test conformance -- --ignored
    echo "-- Prism validated $(grep -c 'Request received' "$log" || true) requests"
}

run_schemathesis() {
    local venv=$here/.venv want
    want=$(fingerprint "$here/requirements.txt")
    if [[ ! -f $venv/.installed-from || $(<"$venv/.installed-from") != "$want" ]]; then
        echo "-- pip install -r conformance/requirements.txt (into conformance/.venv)"
        rm -rf "$venv"
        python3 -m venv "$venv" ||
            fail "python3 -m venv failed: install the venv module (Debian/Ubuntu: python3-venv)"
        "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
            -r "$here/requirements.txt"
        echo "$want" >"$venv/.installed-from"
    fi

    # The spec with the wire rules. Open enums (`X::Known` or `X::Other(String)`) are written as
    # a oneOf that typify reads first-match-wins, i.e. JSON Schema's anyOf (see `open_enums` in
    # activitylog-codegen/src/wire.rs); a strict validator would reject every listed value.
    "$target_dir/debug/activitylog-codegen" --normalized --out "$work/normalized.json"
    "$venv/bin/python" - "$work/normalized.json" "$work/activitylog.normalized.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
for name, schema in spec["components"]["schemas"].items():
    titles = [alternative.get("title") for alternative in schema.get("oneOf", [])]
    if titles == [f"{name}Known", f"{name}Other"]:
        schema["anyOf"] = schema.pop("oneOf")
json.dump(spec, open(sys.argv[2], "w"), indent=1)
PY

    local log=$work/sandbox.log
    "$target_dir/debug/activitylog" sandbox --port 0 >"$log" 2>&1 </dev/null &
    pids+=("$!")
    await "$log" 'IONOS_API_URL=http://127\.0\.0\.1:[0-9]+' "$!" 60 "the sandbox"
    local url=${ready#IONOS_API_URL=}
    echo "-- sandbox on $url"

    # Half of the contract numbers and dates schemathesis sends are ones the sandbox has data
    # for (its entries cover the last 90 days), so that pages of events get checked too, not
    # only 400s and 403s. contracts.toml fixes every query parameter to a valid value, so that
    # only the contract number varies.
    "$venv/bin/python" - "$work" <<'PY'
import datetime as dt, sys
now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
week_ago = (now - dt.timedelta(days=7)).date().isoformat()
tomorrow = (now + dt.timedelta(days=1)).date().isoformat()
dates = [
    (now - dt.timedelta(days=30)).date().isoformat(),
    week_ago,
    tomorrow,
    (now - dt.timedelta(days=1)).isoformat().replace("+00:00", "Z"),
    (now - dt.timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    (now - dt.timedelta(days=2)).astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat(),
]
with open(f"{sys.argv[1]}/schemathesis.toml", "w") as config:
    config.write(f"""
[dictionaries.contracts]
values = [31721060, 12345678, 98765432]

[dictionaries.dates]
values = {dates!r}

[parameters]
"path.contractNumber" = {{ dictionary = "contracts", probability = 0.6 }}
"query.dateStart" = {{ dictionary = "dates", probability = 0.5 }}
"query.dateEnd" = {{ dictionary = "dates", probability = 0.5 }}

# The spec types dateStart/dateEnd as any string and offset/limit as any integer, and cannot
# say "dateStart before dateEnd", "at most 90 days" or "offset + limit <= 10,000": requests
# it calls valid can be refused with 400 (documented by the wire rule bad_request_documented).
# Anything else (404, 405, 422, 5xx) for a schema-valid request still fails; pass 3 is strict.
[checks.positive_data_acceptance]
expected-statuses = ["2xx", 400, 401, 403]
""")
with open(f"{sys.argv[1]}/contracts.toml", "w") as config:
    config.write(f"""
[dictionaries.contracts]
values = [31721060, 12345678]

[parameters]
"path.contractNumber" = {{ dictionary = "contracts", probability = 0.3 }}
"query.dateStart" = "{week_ago}"
"query.dateEnd" = "{tomorrow}"
"query.offset" = 0
"query.limit" = 5

# Any integer is a contract number: one the credentials can read (200) or not (403).
[checks.positive_data_acceptance]
expected-statuses = [200, 403]
""")
PY

    local common=(--url "$url" --max-examples "$max_examples" --seed "$seed" --no-color
        --generation-database none --request-timeout 30)
    local failed=()
    echo "-- schemathesis, pass 1: the upstream spec, response shapes (Basic auth)"
    (cd "$work" && "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run \
        "$root/openapi/activitylog.json" "${common[@]}" \
        --auth sandbox@example.com:sandbox \
        --checks not_a_server_error,response_schema_conformance,content_type_conformance,response_headers_conformance) ||
        failed+=("pass 1 (upstream spec)")
    echo "-- schemathesis, pass 2: the spec with the wire rules, all checks (Bearer auth)"
    (cd "$work" && "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run \
        "$work/activitylog.normalized.json" "${common[@]}" \
        -H "Authorization: Bearer sandbox-token" \
        --checks all) ||
        failed+=("pass 2 (spec with wire rules)")
    echo "-- schemathesis, pass 3: any integer contract number is accepted (200 or 403)"
    (cd "$work" && "$venv/bin/schemathesis" --config-file "$work/contracts.toml" run \
        "$work/activitylog.normalized.json" "${common[@]}" \
        -H "Authorization: Bearer sandbox-token" \
        --include-operation-id getByContract --mode positive --phases coverage,fuzzing \
        --checks positive_data_acceptance,status_code_conformance,not_a_server_error) ||
        failed+=("pass 3 (contract numbers)")
    [[ ${#failed[@]} -eq 0 ]] || fail "schemathesis found problems in ${failed[*]}: see above"
}

started=$SECONDS
for step in "${steps[@]}"; do
    "check_$step"
done
build
for step in "${steps[@]}"; do
    "run_$step"
done
echo "-- conformance: ${steps[*]} passed in $((SECONDS - started))s"
