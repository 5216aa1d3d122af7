"""Start this host's HTTP server in the background and publish its URL.

    serve.py static   serve ./site, tagging every answer with X-Backend: <entity>
    serve.py proxy    round-robin over the backends given in inputs.backends

The socket is bound before forking, so a busy port fails the action at once with a
clear message instead of a silent daemon death. The daemon's pid goes to server.pid
(stop_server.sh is the undo). A server this host started earlier is stopped first: a
re-deploy that changed this state's inputs (e.g. one more backend) replaces it.
"""
import functools
import http.server
import itertools
import json
import os
import signal
import sys
import threading
import time
import urllib.request

role, port = sys.argv[1], int(os.environ["PORT"])
node = os.environ["MURANO_FLOW_ENTITY"]


class Quiet:
    def log_message(self, fmt, *args):
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")


class Static(Quiet, http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("X-Backend", node)
        super().end_headers()


def proxy_handler():
    with open(os.environ["MURANO_FLOW_PARAMS"]) as f:
        backends = json.load(f)["inputs"]["backends"]
    if not backends:
        sys.exit("no backends given")
    turn, lock = itertools.cycle(backends), threading.Lock()

    class Proxy(Quiet, http.server.BaseHTTPRequestHandler):
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

    return Proxy


handler = (functools.partial(Static, directory=os.path.abspath("site")) if role == "static"
           else proxy_handler())


def listen(replaced):
    """Bind the port, waiting a little for a server we just stopped to let it go."""
    for _ in range(50 if replaced else 1):
        try:
            return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as exc:
            error = exc
            time.sleep(0.1)
    sys.exit(f"cannot listen on 127.0.0.1:{port}: {error.strerror} (is another server using it?)")


def stop_previous():
    """Stop the server this host started before, if any; whether one was signalled."""
    try:
        with open("server.pid") as f:
            os.kill(int(f.read().strip()), signal.SIGTERM)
    except (OSError, ValueError):
        return False
    print(f"{node}: replacing the {role} server started earlier")
    return True


server = listen(stop_previous())

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
        urllib.request.urlopen(url, timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(f"the {role} server of {node} did not answer at {url}; see server.log")
with open(os.environ["MURANO_FLOW_OUTPUT"], "w") as out:
    json.dump({"url": url}, out)
print(f"{node}: {role} server at {url}")
