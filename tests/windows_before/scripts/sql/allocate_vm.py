"""Step 1: take this member's machine from the inventory and wait until WinRM answers.

Publishes {"address": ...}; every later state reaches the machine through it.
Replace this script with a call to your cloud's API to create the VM instead.
"""
import json
import os
import socket
import sys
import time

address, port = os.environ["ADDRESS"], int(os.environ["WINRM_PORT"])
deadline = time.monotonic() + 600
while True:
    try:
        socket.create_connection((address, port), timeout=5).close()
        break
    except OSError as exc:
        if time.monotonic() > deadline:
            sys.exit(f"{address}:{port} did not accept connections in 10 minutes: {exc}")
        time.sleep(10)
with open(os.environ["MURANO_FLOW_OUTPUT"], "w") as out:
    json.dump({"address": address}, out)
print(f"{os.environ['MURANO_FLOW_ENTITY']} allocated at {address}")
