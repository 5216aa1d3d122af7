"""Ask the load balancer enough times to see every web node answer; fail otherwise."""
import json
import os
import sys
import urllib.request

url, expected = os.environ["LB_URL"], int(os.environ["EXPECTED"])
seen = {}
for _ in range(2 * expected):
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            seen[reply.headers.get("X-Backend", "?")] = reply.status
    except OSError as exc:
        sys.exit(f"{url} did not answer: {exc}")
report = {"url": url, "backends_seen": sorted(seen)}
with open("health.json", "w") as f:
    json.dump(report, f)
if len(seen) < expected:
    sys.exit(f"only {len(seen)} of {expected} web nodes answered through {url}: {sorted(seen)}")
with open(os.environ["MURANO_FLOW_OUTPUT"], "w") as out:
    json.dump({"backends_seen": sorted(seen)}, out)
print(f"{url}: all {expected} web nodes answered")
