#!/bin/sh
# Entrypoint of the influxdb service: refuse placeholder secrets, then hand over to the image's entrypoint,
# which on first start creates the org, bucket, admin user and token from DOCKER_INFLUXDB_INIT_* (.env).
set -eu
. "$(dirname "$0")/../check-secrets.sh"
check_secrets DOCKER_INFLUXDB_INIT_PASSWORD DOCKER_INFLUXDB_INIT_ADMIN_TOKEN
exec /entrypoint.sh "$@"
