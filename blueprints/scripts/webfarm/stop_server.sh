#!/bin/sh
# Undo of a serving state: stop the background server recorded in server.pid.
set -eu
if [ -f server.pid ]; then
    pid=$(cat server.pid)
    kill "$pid" 2>/dev/null && echo "stopped server $pid of $MURANO_FLOW_ENTITY" \
        || echo "server $pid of $MURANO_FLOW_ENTITY was not running"
    rm -f server.pid
else
    echo "no server recorded for $MURANO_FLOW_ENTITY"
fi
