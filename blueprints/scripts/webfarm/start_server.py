"""Start this web node's static server in the background and publish its URL.

The socket is bound before forking, so a busy port fails this action at once
with a clear message instead of a silent daemon death.
"""
import functools
import http.server
import json
import os
import sys
import time
import urllib.request

port = int(os.environ["PORT"])
node = os.environ["MURANO_FLOW_ENTITY"]


class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("X-Backend", node)
        super().end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")


try:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(Handler, directory=os.path.abspath("site")))
except OSError as exc:
    sys.exit(f"cannot listen on 127.0.0.1:{port}: {exc.strerror} (is another server using it?)")

if os.fork() == 0:  # first child: new session, then fork again so init adopts the server
    os.setsid()
    if os.fork():
        os._exit(0)
    log = os.open("server.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for fd in (0, 1, 2):
        os.dup2(log if fd else os.open(os.devnull, os.O_RDONLY), fd)
    with open("server.pid", "w") as f:
        f.write(str(os.getpid()))
    server.serve_forever()
    os._exit(0)

server.socket.close()
os.wait()
url = f"http://127.0.0.1:{port}/"
for _ in range(50):
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            assert reply.headers.get("X-Backend") == node
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(f"the server for {node} did not answer at {url}; see server.log")
with open(os.environ["MURANO_FLOW_OUTPUT"], "w") as out:
    json.dump({"url": url}, out)
print(f"{node} serving at {url}")
