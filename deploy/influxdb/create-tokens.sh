#!/bin/sh
# One-shot service `influx-tokens` of docker-compose.yml: give each smartfactory service an InfluxDB token that
# may do what the service needs and nothing more, so the admin token stays with influxdb and this script.
#
#   ingest     read and write the bucket INFLUX_BUCKET: it writes everything, and reads back stored limits,
#              births and alarms (to merge acknowledgements into them)
#   dashboard  read that bucket only: it stores nothing (its alarm acknowledgements travel over MQTT, and
#              ingestion stores them)
#
# Each token is written to TOKEN_DIR/<service>/token (mode 0600, owner TOKEN_OWNER: the smartfactory image's
# user). Each of those folders is a volume of its own, mounted read-only into its service only, so the dashboard
# cannot read the ingest token. The service's entrypoint reads the file named by INFLUX_TOKEN_FILE.
#
# Safe to run again (every `docker compose up` runs it before ingest and dashboard start): the token InfluxDB
# holds under the description smartfactory-<service>, active and with exactly these permissions, is kept. One
# with that description but other permissions (the bucket was replaced, someone widened it) or inactive is
# deleted and a new one made. ROTATE_TOKENS=1 replaces both tokens; restart ingest and dashboard afterwards.
#
# Environment: INFLUX_HOST, INFLUX_TOKEN (the admin token; the influx CLI reads both), INFLUX_ORG, INFLUX_BUCKET,
# INFLUX_ADMIN_USER (owner of the new tokens), TOKEN_DIR (default /tokens), TOKEN_OWNER (default 10001:10001;
# empty: leave the owner alone), ROTATE_TOKENS (1: replace).
set -eu
. "$(dirname "$0")/../check-secrets.sh"
check_secrets INFLUX_TOKEN
export INFLUX_HOST="${INFLUX_HOST:-http://influxdb:8086}" INFLUX_TOKEN
org="${INFLUX_ORG:?is not set}"
bucket="${INFLUX_BUCKET:?is not set}"
user="${INFLUX_ADMIN_USER:-admin}"
token_dir="${TOKEN_DIR:-/tokens}"
owner="${TOKEN_OWNER-10001:10001}"
rotate="${ROTATE_TOKENS:-0}"
tab="$(printf '\t')"

say() { echo "influx-tokens: $*"; }
fail() {
    echo "influx-tokens: $*" >&2
    exit 1
}

# The bucket's ID and its organisation's ID (columns 1 and 5 of the table; cells are separated by tabs).
found="$(influx bucket list --org "$org" --name "$bucket" --hide-headers)" ||
    fail "cannot find bucket '$bucket' of org '$org' on $INFLUX_HOST"
bucket_id="$(printf '%s\n' "$found" | awk -F "$tab+" -v name="$bucket" '$2 == name { print $1; exit }')"
org_id="$(printf '%s\n' "$found" | awk -F "$tab+" -v name="$bucket" '$2 == name { print $5; exit }')"
[ -n "$bucket_id" ] && [ -n "$org_id" ] || fail "bucket '$bucket' is not in the answer of 'influx bucket list'"

# Tokens with DESCRIPTION in `influx auth list --json` (tab-indented, one field or permission a line), one line
# each: ID|STATUS|TOKEN|PERMISSIONS (sorted, space-separated). TOKEN is empty when the server does not show it.
tokens_described() {
    printf '%s\n' "$listed" | awk -v want="$1" '
        function value(line) { sub(/^[^:]*: "/, "", line); sub(/",?$/, "", line); return line }
        function emit(   i, j, t, out) {
            for (i = 2; i <= n; i++)  # insertion sort: awk has no sort of its own everywhere
                for (j = i; j > 1 && p[j - 1] > p[j]; j--) { t = p[j]; p[j] = p[j - 1]; p[j - 1] = t }
            out = ""
            for (i = 1; i <= n; i++) out = out (i > 1 ? " " : "") p[i]
            if (desc == want) print id "|" status "|" token "|" out
        }
        { sub(/^[ \t]+/, "") }
        /^\{/ { id = desc = status = token = ""; n = 0; inperm = 0; next }
        inperm && /^\]/ { inperm = 0; next }
        inperm { line = $0; sub(/^"/, "", line); sub(/",?$/, "", line); p[++n] = line; next }
        /^"permissions": \[$/ { inperm = 1; next }
        /^"id": "/ { id = value($0) }
        /^"description": "/ { desc = value($0) }
        /^"status": "/ { status = value($0) }
        /^"token": "/ { token = value($0) }
        /^\}/ { emit() }
    '
}

write_token() {  # FILE TOKEN: replace the file only when its content differs; owner and mode every time
    folder="$(dirname "$1")"
    mkdir -p "$folder"
    if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
        temporary="$(mktemp "$folder/.token.XXXXXX")"
        printf '%s' "$2" >"$temporary"
        mv -f "$temporary" "$1"
    fi
    chmod 0600 "$1"
    chmod 0700 "$folder"
    if [ -n "$owner" ]; then
        chown "$owner" "$folder" "$1"
    fi
}

grant() {  # SERVICE ACTION...: make sure smartfactory-SERVICE is a token for exactly ACTION... on the bucket
    service="$1"
    shift
    description="smartfactory-$service"
    file="$token_dir/$service/token"
    flags=""
    wanted=""
    for action in "$@"; do
        flags="$flags --$action-bucket $bucket_id"
        wanted="$wanted $action:orgs/$org_id/buckets/$bucket_id"
    done
    # shellcheck disable=SC2086
    wanted="$(printf '%s\n' $wanted | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"

    kept=""
    stale=""
    while IFS='|' read -r id status token permissions; do
        [ -n "$id" ] || continue
        if [ -z "$kept" ] && [ "$rotate" != 1 ] && [ "$status" = active ] && [ "$permissions" = "$wanted" ]; then
            if [ -n "$token" ]; then
                kept="$id"
                write_token "$file" "$token"
                continue
            elif [ -s "$file" ]; then  # the server hides token values: trust the file this script wrote
                kept="$id"
                write_token "$file" "$(cat "$file")"
                continue
            fi
        fi
        stale="$stale $id"
    done <<EOF
$(tokens_described "$description")
EOF

    if [ -n "$kept" ]; then
        say "$service: kept token $kept ($wanted)"
    else
        # shellcheck disable=SC2086
        made="$(influx auth create --org "$org" --user "$user" --description "$description" $flags --json)" ||
            fail "$service: cannot create its token"
        listed="$made"
        created="$(tokens_described "$description")"
        id="${created%%|*}"
        token="$(printf '%s' "$created" | cut -d'|' -f3)"
        [ -n "$id" ] && [ -n "$token" ] || fail "$service: 'influx auth create' printed no token"
        write_token "$file" "$token"
        say "$service: created token $id ($wanted)"
    fi
    for id in $stale; do
        influx auth delete --id "$id" >/dev/null || fail "$service: cannot delete token $id"
        say "$service: deleted token $id (rotated, inactive, other permissions or a duplicate)"
    done
}

listed="$(influx auth list --org "$org" --json)" || fail "cannot list the tokens of org '$org'"
grant ingest read write
listed="$(influx auth list --org "$org" --json)" || fail "cannot list the tokens of org '$org'"
grant dashboard read
say "tokens in $token_dir/ingest/token and $token_dir/dashboard/token"
