#!/bin/sh
# The 5-minute tour as one script: validate, plan, deploy the web farm on this
# machine, show it answering through its load balancer, grow it by one member
# (only what changed runs), then roll it back.
set -eu
MF=${MF:-murano-flow}
export MURANO_FLOW_HOME="${MURANO_FLOW_HOME:-.murano-flow/demo}"
export MURANO_FLOW_STORE="${MURANO_FLOW_STORE:-sqlite:///$MURANO_FLOW_HOME/journal.db}"
BP=blueprints/webfarm.yaml
ID="demo-$(date +%Y%m%d-%H%M%S)"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "validate $BP"
$MF validate "$BP"
step "plan: what runs in parallel, wave by wave"
$MF plan "$BP" -p web_count=3
step "deploy (3 web nodes + load balancer)"
$MF deploy "$BP" -p web_count=3 --id "$ID"
step "the farm answers through its load balancer"
LB=$($MF status "$ID" -f json | python3 -c \
  'import json,sys; d=json.load(sys.stdin); print([n for n in d["nodes"] if n["name"]=="lb.Configured"][0]["outputs"]["url"])')
python3 - "$LB" <<'PY'
import sys, urllib.request
for _ in range(6):
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        print(f"GET {sys.argv[1]} -> {r.status} from {r.headers['X-Backend']}")
PY
step "grow the farm to 4 web nodes: deploying again runs only what changed"
$MF deploy "$BP" -p web_count=4 --id "$ID" >/dev/null
$MF events "$ID" -f json | python3 -c '
import json, sys
events = json.load(sys.stdin)
start = max(e["seq"] for e in events if "deployed again" in e["message"])
def nodes(kind, message=""):
    return ", ".join(sorted({e["node"] for e in events if e["seq"] > start
                             and e["kind"] == kind and e["message"].startswith(message)}))
print("actions run (new states, or inputs changed):", nodes("reached", "done in"))
print("kept, their check probe passed:", nodes("skipped"))
print("kept, inputs unchanged:", nodes("unchanged"))'
python3 - "$LB" <<'PY'
import sys, urllib.request
seen = set()
for _ in range(8):
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        seen.add(r.headers["X-Backend"])
print(f"the load balancer now answers from {len(seen)} web nodes: {', '.join(sorted(seen))}")
PY
step "status and the last events"
$MF status "$ID"
$MF events "$ID" | tail -5
step "roll back (undo in reverse dependency order)"
$MF rollback "$ID" >/dev/null && $MF status "$ID"
if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$LB" 2>/dev/null; then
    echo "the load balancer still answers after rollback" >&2; exit 1
fi
echo "rolled back: $LB no longer answers. Journal: $MURANO_FLOW_STORE"
