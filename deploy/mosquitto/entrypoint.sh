#!/bin/sh
# Entrypoint of the mosquitto service: check the secrets, write the password file (hashed by mosquitto_passwd)
# and the ACL from acl.template, then start the image's own entrypoint with the given command.
#
#   entrypoint.sh mosquitto -c /deploy/mosquitto/mosquitto.conf
#   entrypoint.sh --generate-only            (writes the files and exits; the tests use this)
#
# Environment: MQTT_{INGEST,SIM,DASHBOARD,OPERATOR}_PASSWORD (required), MQTT_*_USER (defaults below),
# SIM_TOPIC_ROOT (the simulator's enterprise/site, default acme/plant1), MQTT_INGEST_WORKERS (ingestion accounts:
# 1 gives MQTT_INGEST_USER; N > 1 adds MQTT_INGEST_USER-2 … -N with the same password, one per worker of a
# shared-subscription group, deploy/compose.scale.yml), SECRETS_DIR (default /mosquitto/secrets), DEPLOY_DIR
# (default: this script's folder's parent).
#
# Client ids are bound to accounts (mosquitto.conf): on listener 1884 a session is named after its account, and
# ids sent by clients must begin with "smartfactory-", so no username may begin with it.
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
MQTT_INGEST_WORKERS=${MQTT_INGEST_WORKERS:-1}
case "$MQTT_INGEST_WORKERS" in
    ""|*[!0-9]*|0) echo "refusing to start: MQTT_INGEST_WORKERS must be a whole number from 1" >&2; exit 78 ;;
esac
ingest_users=$MQTT_INGEST_USER
worker=2
while [ "$worker" -le "$MQTT_INGEST_WORKERS" ]; do
    ingest_users="$ingest_users $MQTT_INGEST_USER-$worker"
    worker=$((worker + 1))
done

for name in "$MQTT_INGEST_USER" "$MQTT_SIM_USER" "$MQTT_DASHBOARD_USER" "$MQTT_OPERATOR_USER" "$SIM_TOPIC_ROOT"; do
    case "$name" in
        *[!A-Za-z0-9._/-]*|"") echo "refusing to start: '$name' may hold only letters, digits and . _ - /" >&2; exit 78 ;;
    esac
done
for name in "$MQTT_INGEST_USER" "$MQTT_SIM_USER" "$MQTT_DASHBOARD_USER" "$MQTT_OPERATOR_USER"; do
    case "$name" in
        smartfactory-*) echo "refusing to start: user name '$name' must not begin with smartfactory- (client ids do)" >&2; exit 78 ;;
    esac
done

umask 077
mkdir -p "$SECRETS_DIR"
rm -f "$SECRETS_DIR/passwd"
touch "$SECRETS_DIR/passwd"
for user in $ingest_users; do
    mosquitto_passwd -b "$SECRETS_DIR/passwd" "$user" "$MQTT_INGEST_PASSWORD"
done
mosquitto_passwd -b "$SECRETS_DIR/passwd" "$MQTT_SIM_USER" "$MQTT_SIM_PASSWORD"
mosquitto_passwd -b "$SECRETS_DIR/passwd" "$MQTT_DASHBOARD_USER" "$MQTT_DASHBOARD_PASSWORD"
mosquitto_passwd -b "$SECRETS_DIR/passwd" "$MQTT_OPERATOR_USER" "$MQTT_OPERATOR_PASSWORD"
# The template's ingest block (its "user @INGEST_USER@" line up to the next blank line) once per ingest account.
awk -v users="$ingest_users" '
    /^user @INGEST_USER@$/ { inblock = 1 }
    inblock && /^$/ { n = split(users, u, " "); for (i = 1; i <= n; i++) { b = block; gsub(/@INGEST_USER@/, u[i], b); printf "%s\n", b }; inblock = 0; block = ""; next }
    inblock { block = block $0 "\n"; next }
    { print }
' "$here/acl.template" | sed -e "s|@SIM_USER@|$MQTT_SIM_USER|g" \
    -e "s|@SIM_ROOT@|$SIM_TOPIC_ROOT|g" \
    -e "s|@DASHBOARD_USER@|$MQTT_DASHBOARD_USER|g" \
    -e "s|@OPERATOR_USER@|$MQTT_OPERATOR_USER|g" > "$SECRETS_DIR/acl"
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
    chown -R mosquitto:mosquitto "$SECRETS_DIR"  # mosquitto drops to this user and rereads them on SIGHUP
fi

if [ "${1:-}" = "--generate-only" ]; then
    exit 0
fi
exec /docker-entrypoint.sh "$@"
