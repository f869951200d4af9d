# Refuse to start with a missing, placeholder or short secret. POSIX sh; sourced by every entrypoint.
#
#   . /deploy/check-secrets.sh
#   check_secrets MQTT_PASSWORD SMARTFACTORY_INFLUX_TOKEN
#
# The placeholders in .env.example all contain "change-me", so copying the example without filling it in
# stops the stack with a message instead of running it with a published password.

check_secrets() {
    failed=0
    for name in "$@"; do
        eval "value=\${$name:-}"
        if [ -z "$value" ]; then
            echo "refusing to start: $name is not set (copy .env.example to .env and fill it in)" >&2
            failed=1
        elif printf '%s' "$value" | grep -qi 'change-me'; then
            echo "refusing to start: $name still holds the placeholder from .env.example;" \
                 "set a real secret, e.g. \$(openssl rand -hex 24)" >&2
            failed=1
        elif [ "${#value}" -lt 12 ]; then
            echo "refusing to start: $name is shorter than 12 characters" >&2
            failed=1
        fi
    done
    if [ "$failed" -ne 0 ]; then
        exit 78  # EX_CONFIG
    fi
}
