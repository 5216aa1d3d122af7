#!/bin/sh
# one side effect per run: a line at the start and one at the end
printf 'start %s %s\n' "$MURANO_FLOW_NODE" "$MURANO_FLOW_ATTEMPT" >> "$COUNTER"
sleep "${PAUSE:-0}"
if [ -n "$FAIL_NODE" ] && [ "$FAIL_NODE" = "$MURANO_FLOW_NODE" ]; then
    echo "failing on purpose" >&2
    exit 3
fi
printf 'end %s %s\n' "$MURANO_FLOW_NODE" "$MURANO_FLOW_ATTEMPT" >> "$COUNTER"
printf '{"role": "%s", "gateway": "%s", "port": %s}' "$ROLE" "$GATEWAY" "${PORT:-0}" > "$MURANO_FLOW_OUTPUT"
