"""Check probe: exit 0 when our server already answers at URL (and publish the URL).

With EXPECT_BACKEND set, the answer must also come from that web node.
"""
import json
import os
import sys
import urllib.request

url = os.environ["URL"]
try:
    with urllib.request.urlopen(url, timeout=2) as reply:
        backend = reply.headers.get("X-Backend")
except OSError:
    sys.exit(1)
expected = os.environ.get("EXPECT_BACKEND")
if not os.path.exists("server.pid") or (expected and backend != expected):
    sys.exit(1)
with open(os.environ["MURANO_FLOW_OUTPUT"], "w") as out:
    json.dump({"url": url}, out)
print("already serving at", url)
