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
exec smartfactory "$@"
