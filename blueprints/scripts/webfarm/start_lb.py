"""Start a round-robin HTTP load balancer over the web nodes (inputs.backends) in the background."""
import http.server
import itertools
import json
import os
import sys
import threading
import time
import urllib.request

with open(os.environ["MURANO_FLOW_PARAMS"]) as f:
    backends = json.load(f)["inputs"]["backends"]
if not backends:
    sys.exit("no backends given")
port = int(os.environ["PORT"])
turn = itertools.cycle(backends)
lock = threading.Lock()


class Proxy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with lock:
            backend = next(turn)
        try:
            with urllib.request.urlopen(backend.rstrip("/") + self.path, timeout=5) as reply:
                body, served_by = reply.read(), reply.headers.get("X-Backend", "")
            self.send_response(200)
            self.send_header("X-Backend", served_by)
        except OSError as exc:
            body = f"backend {backend} failed: {exc}\n".encode()
            self.send_response(502)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")


try:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy)
except OSError as exc:
    sys.exit(f"cannot listen on 127.0.0.1:{port}: {exc.strerror} (is another server using it?)")

if os.fork() == 0:
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
        urllib.request.urlopen(url, timeout=2).close()
        break
    except OSError:
        time.sleep(0.1)
with open(os.environ["MURANO_FLOW_OUTPUT"], "w") as out:
    json.dump({"url": url}, out)
print(f"load balancer at {url} over {len(backends)} backends")
