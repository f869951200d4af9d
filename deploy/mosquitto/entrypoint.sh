#!/bin/sh
# Entrypoint of the mosquitto service: check the secrets, write the password file (hashed by mosquitto_passwd)
# and the ACL from acl.template, then start the image's own entrypoint with the given command.
#
#   entrypoint.sh mosquitto -c /deploy/mosquitto/mosquitto.conf
#   entrypoint.sh --generate-only            (writes the files and exits; the tests use this)
#
# Environment: MQTT_{INGEST,SIM,DASHBOARD,OPERATOR}_PASSWORD (required), MQTT_*_USER (defaults below),
# SIM_TOPIC_ROOT (the simulator's enterprise/site, default acme/plant1), SECRETS_DIR (default
# /mosquitto/secrets), DEPLOY_DIR (default: this script's folder's parent).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
DEPLOY_DIR=${DEPLOY_DIR:-$(dirname "$here")}
SECRETS_DIR=${SECRETS_DIR:-/mosquitto/secrets}
. "$DEPLOY_DIR/check-secrets.sh"
check_secrets MQTT_INGEST_PASSWORD MQTT_SIM_PASSWORD MQTT_DASHBOARD_PASSWORD MQTT_OPERATOR_PASSWORD

MQTT_INGEST_USER=${MQTT_INGEST_USER:-ingest}
MQTT_SIM_USER=${MQTT_SIM_USER:-simulator}
MQTT_DASHBOARD_USER=${MQTT_DASHBOARD_USER:-dashboard}
MQTT_OPERATOR_USER=${MQTT_OPERATOR_USER:-operator}
SIM_TOPIC_ROOT=${SIM_TOPIC_ROOT:-acme/plant1}

for name in "$MQTT_INGEST_USER" "$MQTT_SIM_USER" "$MQTT_DASHBOARD_USER" "$MQTT_OPERATOR_USER" "$SIM_TOPIC_ROOT"; do
    case "$name" in
        *[!A-Za-z0-9._/-]*|"") echo "refusing to start: '$name' may hold only letters, digits and . _ - /" >&2; exit 78 ;;
    esac
done

umask 077
mkdir -p "$SECRETS_DIR"
rm -f "$SECRETS_DIR/passwd"
touch "$SECRETS_DIR/passwd"
mosquitto_passwd -b "$SECRETS_DIR/passwd" "$MQTT_INGEST_USER" "$MQTT_INGEST_PASSWORD"
mosquitto_passwd -b "$SECRETS_DIR/passwd" "$MQTT_SIM_USER" "$MQTT_SIM_PASSWORD"
mosquitto_passwd -b "$SECRETS_DIR/passwd" "$MQTT_DASHBOARD_USER" "$MQTT_DASHBOARD_PASSWORD"
mosquitto_passwd -b "$SECRETS_DIR/passwd" "$MQTT_OPERATOR_USER" "$MQTT_OPERATOR_PASSWORD"
sed -e "s|@INGEST_USER@|$MQTT_INGEST_USER|g" \
    -e "s|@SIM_USER@|$MQTT_SIM_USER|g" \
    -e "s|@SIM_ROOT@|$SIM_TOPIC_ROOT|g" \
    -e "s|@DASHBOARD_USER@|$MQTT_DASHBOARD_USER|g" \
    -e "s|@OPERATOR_USER@|$MQTT_OPERATOR_USER|g" \
    "$here/acl.template" > "$SECRETS_DIR/acl"
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
    chown -R mosquitto:mosquitto "$SECRETS_DIR"  # mosquitto drops to this user and rereads them on SIGHUP
fi

if [ "${1:-}" = "--generate-only" ]; then
    exit 0
fi
exec /docker-entrypoint.sh "$@"
