#!/bin/sh
# Make sure the services the integration tests use are up: start RabbitMQ if it is
# installed but stopped, start PostgreSQL likewise (the multi-engine tests use it),
# install OpenSSH's server if missing (the ssh tests start their own sshd on a
# loopback port), cloud-init (its schema validator checks the agent's user-data),
# Graphviz (SVG graphs) and Chromium with its driver (the dashboard's browser tests).
# Tests fail, rather than skip, when a service is missing.
set -eu

port_open() {  # host port
    python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

await_port() {  # port name seconds: wait for a service just started
    i=0
    until port_open 127.0.0.1 "$1"; do
        i=$((i + 1))
        [ "$i" -lt "$3" ] || { echo "$2 did not come up on 127.0.0.1:$1" >&2; exit 1; }
        sleep 1
    done
}

if [ -z "${MURANO_FLOW_BROKER:-}" ] && ! port_open 127.0.0.1 5672; then
    if command -v rabbitmq-server >/dev/null 2>&1; then
        echo "starting RabbitMQ (rabbitmq-server -detached)"
        rabbitmq-server -detached || true
        await_port 5672 RabbitMQ 90
    else
        echo "RabbitMQ is not running on 127.0.0.1:5672 and rabbitmq-server is not installed;" \
             "install it (apt-get install -y rabbitmq-server) or set MURANO_FLOW_BROKER" >&2
        exit 1
    fi
fi

if [ -z "${MURANO_FLOW_TEST_PG:-}" ] && ! port_open 127.0.0.1 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "starting PostgreSQL"
        for cluster in $(pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}'); do
            pg_ctlcluster "${cluster%/*}" "${cluster#*/}" start || true
        done
        await_port 5432 PostgreSQL 60
    else
        echo "PostgreSQL is not running on 127.0.0.1:5432: install it" \
             "(apt-get install -y postgresql) or set MURANO_FLOW_TEST_PG to a server URL" >&2
        exit 1
    fi
fi

apt_install() {  # package why: install a Debian package as root, or say what is missing
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing $1 ($2)"
        apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 \
                 && apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1; } \
            || { echo "could not install $1" >&2; exit 1; }
    else
        echo "$1 is missing ($2): install it (apt-get install $1, as root)" >&2
        exit 1
    fi
}

if [ ! -x /usr/sbin/sshd ] && ! command -v sshd >/dev/null 2>&1; then
    apt_install openssh-server "the ssh transport's tests run a real sshd"
fi
command -v cloud-init >/dev/null 2>&1 \
    || apt_install cloud-init "its schema validator checks the agent's user-data"
command -v dot >/dev/null 2>&1 || apt_install graphviz "graphs as SVG: the API and reports"
command -v chromium >/dev/null 2>&1 || apt_install chromium "the dashboard's browser tests"
command -v chromedriver >/dev/null 2>&1 \
    || apt_install chromium-driver "Selenium drives chromium through it"
