#!/bin/sh
# Entrypoint of the smartfactory image: refuse placeholder secrets, give scaled ingestion workers distinct
# client ids, then run `smartfactory <command>`.
set -eu
. "$(dirname "$0")/check-secrets.sh"
required="MQTT_PASSWORD"
case "${SMARTFACTORY_STORE:-}" in
    influxdb*) required="$required SMARTFACTORY_INFLUX_TOKEN" ;;
esac
# shellcheck disable=SC2086
check_secrets $required

# Workers of one shared-subscription group need their own client id (and with it their own persistent session
# and spool folder): the container's hostname, unless one is given.
if [ -n "${SMARTFACTORY_INGEST__GROUP:-}" ] && [ -z "${SMARTFACTORY_INGEST__CLIENT_ID:-}" ]; then
    SMARTFACTORY_INGEST__CLIENT_ID="smartfactory-ingest-$(hostname)"
    export SMARTFACTORY_INGEST__CLIENT_ID
fi
# `smartfactory` is the console script pip installed on PATH (in the image: /usr/local/bin; elsewhere the caller
# puts its venv's bin first). Say so plainly rather than leave a bare "not found".
if ! command -v smartfactory >/dev/null 2>&1; then
    echo "smartfactory-entrypoint: the smartfactory command is not on PATH ($PATH); install the package" \
        "(pip install -e .) or put its venv's bin folder first on PATH" >&2
    exit 127
fi
exec smartfactory "$@"
