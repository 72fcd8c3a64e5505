#!/usr/bin/env bash
# TixGo smoke test: one pass through both services, the way a gate would use them.
#
#   ./smoke-test.sh [IDENTITY_URL] [ATTENDANCE_URL]
#   ./smoke-test.sh                                    # http://localhost:18081 http://localhost:18082
#   ./smoke-test.sh http://192.168.1.100:18081 http://192.168.1.100:18082
#   ./smoke-test.sh https://id.example.com https://gate.example.com
#
# It registers its own fresh committee user (smoke-<time>-<random>), so it needs no demo users
# and can run against production: it leaves that user and one check-in on a private event
# (smoke-evt-<same suffix>) behind. When registration is closed, give it an existing account
# instead: SMOKE_USERNAME=gate1 SMOKE_PASSWORD=... ./smoke-test.sh
#
# Needs bash and curl only. Prints one line per step ("ok   ..." or "FAIL ...") and exits
# non-zero at the first wrong status or body. SMOKE_TIMEOUT (seconds, default 15) bounds each
# request.
set -uo pipefail

IDENTITY_URL="${1:-http://localhost:18081}"
ATTENDANCE_URL="${2:-http://localhost:18082}"
IDENTITY_URL="${IDENTITY_URL%/}"
ATTENDANCE_URL="${ATTENDANCE_URL%/}"
TIMEOUT="${SMOKE_TIMEOUT:-15}"

if ! command -v curl >/dev/null 2>&1; then
    echo "FAIL curl is not installed" >&2
    exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tixgo-smoke.XXXXXX")" || exit 2
trap 'rm -rf "$WORK"' EXIT
BODY_FILE="$WORK/body"
STATUS=""
BODY=""

SUFFIX="$(date -u +%Y%m%d%H%M%S)-${RANDOM}${RANDOM}"
if [[ -n "${SMOKE_USERNAME:-}" ]]; then
    USERNAME="$SMOKE_USERNAME"
    PASSWORD="${SMOKE_PASSWORD:-}"
    REGISTER=0
else
    USERNAME="smoke-$SUFFIX"
    PASSWORD="pw-${RANDOM}${RANDOM}${RANDOM}-$SUFFIX"
    REGISTER=1
fi
EVENT_ID="smoke-evt-$SUFFIX"
TICKET_ID="SMOKE-$SUFFIX"

ok() {
    printf 'ok   %s\n' "$1"
}

fail() {
    printf 'FAIL %s\n' "$1"
    if [[ -n "$BODY" ]]; then
        printf '     body: %s\n' "${BODY:0:300}"
    fi
    exit 1
}

# JSON-escapes a string (backslash and double quote; the values here have no control chars).
json_str() {
    local s="$1"
    s="${s//\\/\\\\}"
    s="${s//\"/\\\"}"
    printf '"%s"' "$s"
}

# request METHOD URL [JSON_BODY] [curl args...]: sets STATUS and BODY.
request() {
    local method="$1" url="$2" data="${3:-}"
    shift 2
    if (($#)); then shift; fi
    local args=(-sS --max-time "$TIMEOUT" --connect-timeout 5 -o "$BODY_FILE" -w '%{http_code}'
        -X "$method" -H 'Accept: application/json')
    if [[ -n "$data" ]]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$data")
    fi
    : >"$BODY_FILE"
    STATUS="$(curl "${args[@]}" "$@" "$url" 2>"$WORK/curl.err")" || STATUS="${STATUS:-000}"
    BODY="$(cat "$BODY_FILE")"
    if [[ "$STATUS" == "000" ]]; then
        BODY="$(head -c 300 "$WORK/curl.err")"
    fi
}

# expect STEP WANTED_STATUS: fails the step unless the last request answered WANTED_STATUS.
expect_status() {
    if [[ "$STATUS" != "$2" ]]; then
        fail "$1: expected HTTP $2, got $STATUS"
    fi
}

# body_has STEP TEXT...: fails the step unless the body contains every TEXT.
body_has() {
    local step="$1" text
    shift
    for text in "$@"; do
        if [[ "$BODY" != *"$text"* ]]; then
            fail "$step: body lacks $text"
        fi
    done
}

# The body with insignificant JSON whitespace removed (outside strings is all we need here:
# none of the values we look for contain ": " or ", ").
compact() {
    printf '%s' "$BODY" | sed -e 's/"[[:space:]]*:[[:space:]]*/":/g' -e 's/,[[:space:]]*"/,"/g'
}

# 1. Both services are up.
request GET "$IDENTITY_URL/health"
expect_status "health identity ($IDENTITY_URL)" 200
BODY="$(compact)"
body_has "health identity" '"status":"ok"'
ok "health identity $IDENTITY_URL"

request GET "$ATTENDANCE_URL/health"
expect_status "health attendance ($ATTENDANCE_URL)" 200
BODY="$(compact)"
body_has "health attendance" '"status":"ok"'
ok "health attendance $ATTENDANCE_URL"

# 2. A fresh user.
if [[ "$REGISTER" == 1 ]]; then
    request POST "$IDENTITY_URL/auth/register" \
        "{\"username\":$(json_str "$USERNAME"),\"password\":$(json_str "$PASSWORD"),\"role\":\"committee\"}"
    if [[ "$STATUS" == "401" || "$STATUS" == "403" ]]; then
        fail "register $USERNAME: HTTP $STATUS (registration closed? set SMOKE_USERNAME and SMOKE_PASSWORD)"
    fi
    expect_status "register $USERNAME" 200
    BODY="$(compact)"
    body_has "register $USERNAME" "\"username\":$(json_str "$USERNAME")" '"role":"committee"'
    ok "register $USERNAME"
else
    ok "register skipped (using SMOKE_USERNAME=$USERNAME)"
fi

# 3. Log in and take the token from the body without jq.
request POST "$IDENTITY_URL/auth/login" \
    "{\"username\":$(json_str "$USERNAME"),\"password\":$(json_str "$PASSWORD")}"
expect_status "login $USERNAME" 200
TOKEN="$(compact | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
BODY="$(compact)"
if [[ ! "$TOKEN" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]; then
    BODY=""
    fail "login $USERNAME: no JWT in access_token"
fi
body_has "login $USERNAME" '"token_type":"bearer"'
ok "login $USERNAME (got a bearer token)"
AUTH=(-H "Authorization: Bearer $TOKEN")

# 4. The token says who we are.
request GET "$IDENTITY_URL/auth/me" "" "${AUTH[@]}"
expect_status "auth/me" 200
BODY="$(compact)"
body_has "auth/me" "\"username\":$(json_str "$USERNAME")" '"role":'
if [[ "$REGISTER" == 1 ]]; then
    body_has "auth/me" '"role":"committee"'
fi
ok "auth/me is $USERNAME"

# 5. Check a unique ticket in.
CHECKIN="{\"event_id\":$(json_str "$EVENT_ID"),\"ticket_id\":$(json_str "$TICKET_ID")}"
request POST "$ATTENDANCE_URL/checkins" "$CHECKIN" "${AUTH[@]}"
expect_status "check-in $TICKET_ID" 201
BODY="$(compact)"
body_has "check-in $TICKET_ID" '"status":"checked_in"' "\"ticket_id\":$(json_str "$TICKET_ID")" \
    "\"checked_in_by\":$(json_str "$USERNAME")"
ok "check-in $EVENT_ID/$TICKET_ID (201 checked_in)"

# 6. The same ticket again is refused.
request POST "$ATTENDANCE_URL/checkins" "$CHECKIN" "${AUTH[@]}"
expect_status "duplicate check-in $TICKET_ID" 409
body_has "duplicate check-in $TICKET_ID" 'Ticket already checked in'
ok "duplicate check-in refused (409 Ticket already checked in)"

# 7. The event's attendance lists it.
request GET "$ATTENDANCE_URL/attendance/$EVENT_ID" "" "${AUTH[@]}"
expect_status "attendance $EVENT_ID" 200
BODY="$(compact)"
body_has "attendance $EVENT_ID" "\"event_id\":$(json_str "$EVENT_ID")" '"total_checkins":1' \
    "\"ticket_id\":$(json_str "$TICKET_ID")"
ok "attendance $EVENT_ID lists $TICKET_ID"

echo "smoke test passed: $IDENTITY_URL $ATTENDANCE_URL"
