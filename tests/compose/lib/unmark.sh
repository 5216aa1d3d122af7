#!/bin/sh
printf 'undo %s %s\n' "$MURANO_FLOW_NODE" "$MURANO_FLOW_ATTEMPT" >> "$COUNTER"
