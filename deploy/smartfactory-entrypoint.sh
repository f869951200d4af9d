#!/bin/sh
# Entrypoint of the smartfactory image: read the InfluxDB token from INFLUX_TOKEN_FILE, refuse placeholder secrets
# and group workers without an id of their own, then run `smartfactory <command>`.
set -eu
. "$(dirname "$0")/check-secrets.sh"

# INFLUX_TOKEN_FILE (docker-secrets style): the file holding this service's InfluxDB token, which the compose
# service influx-tokens writes. It becomes SMARTFACTORY_INFLUX_TOKEN for this process and its children only. The
# name has no SMARTFACTORY_ prefix because smartfactory refuses variables with its prefix that it does not know
# (the healthcheck, run without this entrypoint, sees the environment too). Setting both is refused: which one
# was meant would be a guess.
if [ -n "${INFLUX_TOKEN_FILE:-}" ]; then
    if [ -n "${SMARTFACTORY_INFLUX_TOKEN:-}" ]; then
        echo "refusing to start: both INFLUX_TOKEN_FILE and SMARTFACTORY_INFLUX_TOKEN are set; to use a token of" \
            "your own, set INFLUX_TOKEN_FILE to \"\" (docs/deployment.md)" >&2
        exit 78
    fi
    if [ ! -r "$INFLUX_TOKEN_FILE" ]; then
        echo "refusing to start: cannot read the InfluxDB token file $INFLUX_TOKEN_FILE (INFLUX_TOKEN_FILE);" \
            "the influx-tokens service writes it: docker compose logs influx-tokens" >&2
        exit 78
    fi
    SMARTFACTORY_INFLUX_TOKEN="$(cat "$INFLUX_TOKEN_FILE")"
    if [ -z "$SMARTFACTORY_INFLUX_TOKEN" ]; then
        echo "refusing to start: the InfluxDB token file $INFLUX_TOKEN_FILE (INFLUX_TOKEN_FILE) is empty;" \
            "see docker compose logs influx-tokens" >&2
        exit 78
    fi
    export SMARTFACTORY_INFLUX_TOKEN
fi
required="MQTT_PASSWORD"
case "${SMARTFACTORY_STORE:-}" in
    influxdb*) required="$required SMARTFACTORY_INFLUX_TOKEN" ;;
esac
# shellcheck disable=SC2086
check_secrets $required

# Workers of one shared-subscription group need an account and a client id of their own (their own persistent
# session and spool folder): deploy/compose.scale.yml gives them. `docker compose up --scale ingest=N` cannot (N
# containers, one account: the broker names every one's session after that account), so it is refused here.
if [ "${1:-}" = "ingest" ] && [ -n "${SMARTFACTORY_INGEST__GROUP:-}" ] && [ -z "${SMARTFACTORY_INGEST__CLIENT_ID:-}" ]; then
    echo "refusing to start: a worker of group '$SMARTFACTORY_INGEST__GROUP' needs its own account and" \
        "SMARTFACTORY_INGEST__CLIENT_ID (use deploy/compose.scale.yml, not --scale; docs/deployment.md)" >&2
    exit 78
fi
# `smartfactory` is the console script pip installed on PATH (in the image: /usr/local/bin; elsewhere the caller
# puts its venv's bin first). Say so plainly rather than leave a bare "not found".
if ! command -v smartfactory >/dev/null 2>&1; then
    echo "smartfactory-entrypoint: the smartfactory command is not on PATH ($PATH); install the package" \
        "(pip install -e .) or put its venv's bin folder first on PATH" >&2
    exit 127
fi
exec smartfactory "$@"
