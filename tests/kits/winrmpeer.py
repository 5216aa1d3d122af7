"""A WinRM protocol test peer: the WS-Management shell resource over HTTP(S), running
commands as local processes. There is no Windows host here; this is what the winrm
transport is tested against, through the real pywinrm client.

What it implements, as Windows does on the wire: Create (a shell), Command, Send
(stdin, with End), Receive (long poll honouring OperationTimeout, answering the
w:TimedOut fault 2150858793 when nothing came), Signal (terminate), Delete (the
shell and what runs in it); SOAP faults for unknown shells and for envelopes over
MaxEnvelopeSizekb (500 KB), and the w:QuotaLimit fault for a shell over
MaxShellsPerUser (--max-shells, 30 by default as on Windows Server); authentication by
NTLM (pyspnego's NTLM acceptor, connection-bound, as HTTP.sys does) or, with --basic,
Basic (Windows turns Basic off by default: then only Negotiate is offered), over HTTPS
or HTTP; on HTTP, like a host with AllowUnencrypted=false, only messages sealed with
the NTLM session key (multipart/encrypted, MS-WSMV 2.2.9.1.1) are accepted, anything
else gets HTTP 400.
What it does not: Kerberos and CredSSP, PowerShell itself (commands run with this
machine's programs), the WINRS options (code page, profile), Windows' quoting rules
beyond "double quotes group". ``wire.log`` records how each message arrived.

SIGUSR1 simulates a reboot: the listener closes (connections refused), running
commands die, and after --downtime seconds it listens again; ``boots`` counts. The
command ``shutdown.exe /r [/t N]`` does what Windows' does: it returns at once, and the
host goes on answering for N seconds (30 without /t) before it goes down.

    python winrmpeer.py --port P --user U --password W [--tls CERT KEY] [--downtime S]
        [--address A] [--domain D] [--reboot-scale F] [--max-shells N]

``--address`` binds another loopback address (one peer per "host" on one port), ``--domain``
also accepts the user as DOMAIN\\U (a domain account of the same password), and
``--reboot-scale`` shortens what ``shutdown.exe /t N`` waits (the order stays Windows').
"""

from __future__ import annotations

import argparse
import base64
import http.server
import os
import signal
import ssl
import struct
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import spnego
import spnego.exceptions

NS = {"s": "http://www.w3.org/2003/05/soap-envelope",
      "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
      "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
      "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"}
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
MAX_ENVELOPE = 500 * 1024
#: Bytes of one stream returned per Receive (Windows also splits large output).
RECEIVE_CHUNK = 256 * 1024
#: Room in a Receive response for everything but the streams' data.
ENVELOPE_OVERHEAD = 4096
TIMED_OUT = 2150858793
#: ERROR_WSMAN_QUOTA_MAX_SHELLS (0x803381A5), with the w:QuotaLimit subcode.
QUOTA_MAX_SHELLS = 2150859173
#: How much of shutdown.exe's /t delay the peer waits (--reboot-scale).
REBOOT_SCALE = 1.0


class Command:
    """One process and the output it produced that was not received yet."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.out = {"stdout": bytearray(), "stderr": bytearray()}
        self.changed = threading.Condition()
        self.readers = [threading.Thread(target=self._read, args=(name, pipe), daemon=True)
                        for name, pipe in (("stdout", self.proc.stdout),
                                           ("stderr", self.proc.stderr))]
        for r in self.readers:
            r.start()

    def _read(self, name: str, pipe) -> None:
        for chunk in iter(lambda: pipe.read1(65536), b""):
            with self.changed:
                self.out[name] += chunk
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def finished(self) -> bool:
        return self.proc.poll() is not None and not any(r.is_alive() for r in self.readers)

    def kill(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(2)
                return
            except subprocess.TimeoutExpired:
                continue


class Peer:
    """Shells and their commands; the HTTP handler calls into this."""

    def __init__(self, user: str, password: str, workdir: Path, encrypted_only: bool) -> None:
        self.credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.workdir = workdir
        self.encrypted_only = encrypted_only
        #: Service/Auth/Basic: false, as Windows ships it, unless --basic.
        self.basic = False
        #: winrs MaxShellsPerUser (--max-shells).
        self.max_shells = 30
        self.wire = (workdir / "wire.log").open("a", buffering=1)
        #: "<response bytes> <MaxEnvelopeSize asked>" for every Receive answered.
        self.sizes = (workdir / "receive.log").open("a", buffering=1)
        self.shells: dict[str, dict[str, Command]] = {}
        self.lock = threading.Lock()

    def kill_all(self) -> None:
        with self.lock:
            shells, self.shells = self.shells, {}
        for commands in shells.values():
            for c in commands.values():
                c.kill()

    def handle(self, body: bytes) -> tuple[int, str]:
        if len(body) > MAX_ENVELOPE:
            return fault("s:Sender", "w:EncodingLimit", 2150858817,
                         "The request is larger than MaxEnvelopeSizekb.")
        root = ET.fromstring(body)
        action = root.findtext("s:Header/a:Action", "", NS)
        message_id = root.findtext("s:Header/a:MessageID", "", NS)
        shell_id = ""
        for sel in root.iterfind("s:Header/w:SelectorSet/w:Selector", NS):
            if sel.get("Name") == "ShellId":
                shell_id = sel.text or ""
        verb = action.rsplit("/", 1)[-1]
        if verb == "Create":
            shell_id = str(uuid.uuid4()).upper()
            with self.lock:
                if len(self.shells) >= self.max_shells:  # winrs MaxShellsPerUser
                    return fault("s:Receiver", "w:QuotaLimit", QUOTA_MAX_SHELLS,
                                 "The WS-Management service cannot process the request. This "
                                 f"user is allowed a maximum number of {self.max_shells} "
                                 "concurrent shells, which has been exceeded. Close existing "
                                 "shells or raise the quota for this user.")
                self.shells[shell_id] = {}
            return 200, reply(action, message_id, f"""
<x:ResourceCreated xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer">
<a:Address>http://peer/wsman</a:Address><a:ReferenceParameters>
<w:ResourceURI>{SHELL}/cmd</w:ResourceURI><w:SelectorSet>
<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>
</x:ResourceCreated>""")
        with self.lock:
            commands = self.shells.get(shell_id)
        if commands is None:
            return fault("s:Sender", "w:InvalidSelectors", 2150858843,
                         f"The shell {shell_id!r} was not found.")
        if verb == "Delete":
            with self.lock:
                self.shells.pop(shell_id, None)
            for c in commands.values():
                c.kill()
            return 200, reply(action, message_id, "")
        if verb == "Command":
            line = root.find("s:Body/rsp:CommandLine", NS)
            argv = [line.findtext("rsp:Command", "", NS).strip()]
            argv += split(line.findtext("rsp:Arguments", "", NS) or "")
            argv = self.shutdown(argv)
            command_id = str(uuid.uuid4()).upper()
            try:
                commands[command_id] = Command(argv, self.workdir)
            except OSError as exc:
                return fault("s:Receiver", "w:InternalError", 2147942402,
                             f"The system cannot find the file specified: {exc}")
            return 200, reply(action, message_id, f"<rsp:CommandResponse><rsp:CommandId>"
                                                  f"{command_id}</rsp:CommandId>"
                                                  f"</rsp:CommandResponse>")
        if verb == "Send":
            stream = root.find("s:Body/rsp:Send/rsp:Stream", NS)
            c = commands[stream.get("CommandId")]
            c.proc.stdin.write(base64.b64decode(stream.text or ""))
            if stream.get("End", "").lower() == "true":
                c.proc.stdin.close()
            else:
                c.proc.stdin.flush()
            return 200, reply(action, message_id, "<rsp:SendResponse/>")
        if verb == "Signal":
            sig = root.find("s:Body/rsp:Signal", NS)
            c = commands.pop(sig.get("CommandId"), None)
            if c is not None:
                c.kill()
            return 200, reply(action, message_id, "<rsp:SignalResponse/>")
        if verb == "Receive":
            want = root.find("s:Body/rsp:Receive/rsp:DesiredStream", NS)
            command_id = want.get("CommandId")
            timeout = duration(root.findtext("s:Header/w:OperationTimeout", "PT60S", NS))
            # a response stays within the size the client asks for, as Windows' does
            limit = int(root.findtext("s:Header/w:MaxEnvelopeSize", str(MAX_ENVELOPE), NS))
            status, text = self.receive(action, message_id, command_id, commands[command_id],
                                        timeout, limit)
            self.sizes.write(f"{len(text.encode())} {limit}\n")
            return status, text
        return fault("s:Sender", "a:ActionNotSupported", 2150858771, f"unknown action {action}")

    @staticmethod
    def shutdown(argv: list[str]) -> list[str]:
        """``shutdown.exe /r /t N``: schedule the reboot N seconds on (30 by default) and
        return at once, as Windows does; ``cmd.exe /c exit N`` exits N; other commands
        as they are."""
        words = [a.lower() for a in argv]
        if words[:3] == ["cmd.exe", "/c", "exit"] and len(words) == 4:  # cmd's own exit
            return [sys.executable, "-c", f"raise SystemExit({int(words[3])})"]
        if words[0] not in ("shutdown.exe", "shutdown") or "/r" not in words:
            return argv
        delay = float(argv[words.index("/t") + 1]) if "/t" in words else 30.0
        delay *= REBOOT_SCALE
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        return [sys.executable, "-c", "pass"]

    def receive(self, action: str, message_id: str, command_id: str, c: Command,
                timeout: float, limit: int) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        # raw bytes per stream that fit the envelope once base64-encoded (4/3), both streams
        chunk = max(1024, min(RECEIVE_CHUNK, (limit - ENVELOPE_OVERHEAD) * 3 // 4 // 2))
        with c.changed:
            while not (c.out["stdout"] or c.out["stderr"] or c.finished()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return fault("s:Receiver", "w:TimedOut", TIMED_OUT, "The WS-Management "
                                 "service cannot complete the operation within the time "
                                 "specified in OperationTimeout.")
                c.changed.wait(min(left, 0.2))
            parts = []
            for name in ("stdout", "stderr"):
                data = bytes(c.out[name][:chunk])
                del c.out[name][:chunk]
                if data:
                    parts.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}">'
                                 f'{base64.b64encode(data).decode()}</rsp:Stream>')
            done = c.finished() and not c.out["stdout"] and not c.out["stderr"]
        if done:
            parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{SHELL}/'
                         f'CommandState/Done"><rsp:ExitCode>{c.proc.returncode}'
                         f'</rsp:ExitCode></rsp:CommandState>')
        else:
            parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{SHELL}/'
                         f'CommandState/Running"/>')
        return 200, reply(action, message_id,
                          f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>")


def split(arguments: str) -> list[str]:
    """Windows-like argument splitting: whitespace separates, double quotes group."""
    out, word, quoted, any_ = [], [], False, False
    for ch in arguments:
        if ch == '"':
            quoted, any_ = not quoted, True
        elif ch.isspace() and not quoted:
            if word or any_:
                out.append("".join(word))
            word, any_ = [], False
        else:
            word.append(ch)
    if word or any_:
        out.append("".join(word))
    return out


def duration(text: str) -> float:
    """Seconds of an xs:duration like PT20S or PT20.000S."""
    return float(text.strip().removeprefix("PT").removesuffix("S") or 0)


def reply(action: str, message_id: str, body: str) -> str:
    return (f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}" '
            f'xmlns:rsp="{NS["rsp"]}"><s:Header><a:Action>{action}Response</a:Action>'
            f'<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>'
            f'<a:RelatesTo>{message_id}</a:RelatesTo></s:Header><s:Body>{body}</s:Body>'
            f'</s:Envelope>')


def fault(code: str, subcode: str, wsman: int, text: str) -> tuple[int, str]:
    return 500, (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}">'
        f'<s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action>'
        f'</s:Header><s:Body><s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode>'
        f'<s:Value>{subcode}</s:Value></s:Subcode></s:Code><s:Reason>'
        f'<s:Text xml:lang="en-US">{text}</s:Text></s:Reason><s:Detail>'
        f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f'Code="{wsman}" Machine="peer"><f:Message>{text}</f:Message></f:WSManFault>'
        f'</s:Detail></s:Fault></s:Body></s:Envelope>')


BOUNDARY = b"--Encrypted Boundary"
SEALED = "application/HTTP-SPNEGO-session-encrypted"


def handler_for(peer: Peer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        """One instance per TCP connection: NTLM authenticates the connection."""

        protocol_version = "HTTP/1.1"
        ntlm: Any = None  # the connection's NTLM context once a handshake began

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/wsman":
                return self.send(404, "")
            auth = self.headers.get("Authorization", "")
            if auth.startswith(("Negotiate ", "NTLM ")) and not self.handshake(auth):
                return None
            sealed = "multipart/encrypted" in self.headers.get("Content-Type", "")
            if self.ntlm is not None and self.ntlm.complete:
                if not body:
                    return self.send(200, "")  # the empty request that set up the context
                if sealed:
                    body = self.unseal(body)
            elif not peer.basic or auth != f"Basic {peer.credentials}":
                offered = [("WWW-Authenticate", "Negotiate")]
                if peer.basic:
                    offered.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
                return self.send(401, "", offered)
            if peer.encrypted_only and not sealed:
                peer.wire.write("refused-plain\n")
                return self.send(400, "")  # what a host with AllowUnencrypted=false does
            try:
                status, text = peer.handle(body)
            except (ET.ParseError, AttributeError, KeyError) as exc:
                status, text = fault("s:Sender", "w:SchemaValidationError", 2150858817,
                                     f"bad request: {exc}")
            peer.wire.write(f"{'sealed' if sealed else 'plain'} {self.ntlm is not None}\n")
            if sealed:
                return self.send_sealed(status, text.encode())
            self.send(status, text)

        def handshake(self, auth: str) -> bool:
            """One NTLM step; True once the connection is authenticated."""
            scheme, token = auth.split(" ", 1)
            if self.ntlm is None or self.ntlm.complete:
                self.ntlm = spnego.server(protocol="ntlm")
            try:
                out = self.ntlm.step(base64.b64decode(token))
            except spnego.exceptions.SpnegoError:
                self.ntlm = None
                self.send(401, "", [("WWW-Authenticate", "Negotiate")])
                return False
            if not self.ntlm.complete:
                self.send(401, "", [("WWW-Authenticate", f"{scheme} "
                                                          f"{base64.b64encode(out).decode()}")])
                return False
            return True

        def unseal(self, body: bytes) -> bytes:
            header, payload = [p for p in body.split(BOUNDARY + b"\r\n") if p][:2]
            length = int(header.split(b"Length=")[1].strip())
            payload = payload.removesuffix(BOUNDARY + b"--\r\n")
            data = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
            size = struct.unpack("<i", data[:4])[0]
            plain = self.ntlm.unwrap_winrm(data[4:4 + size], data[4 + size:])
            if len(plain) != length:
                raise ET.ParseError("sealed length mismatch")
            return plain

        def send_sealed(self, status: int, plain: bytes) -> None:
            wrapped = self.ntlm.wrap_winrm(plain)
            data = (BOUNDARY + b"\r\n\tContent-Type: " + SEALED.encode() + b"\r\n"
                    b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
                    + str(len(plain)).encode() + b"\r\n" + BOUNDARY
                    + b"\r\n\tContent-Type: application/octet-stream\r\n"
                    + struct.pack("<i", len(wrapped.header)) + wrapped.header + wrapped.data
                    + BOUNDARY + b"--\r\n")
            ctype = f'multipart/encrypted;protocol="{SEALED}";boundary="Encrypted Boundary"'
            self.send_bytes(status, data, [("Content-Type", ctype)])

        def send(self, status: int, text: str,
                 headers: list[tuple[str, str]] | None = None) -> None:
            self.send_bytes(status, text.encode(), [
                ("Content-Type", "application/soap+xml;charset=UTF-8"), *(headers or [])])

        def send_bytes(self, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--downtime", type=float, default=2.0)
    ap.add_argument("--basic", action="store_true", help="allow Basic auth (off in Windows)")
    ap.add_argument("--workdir", type=Path, default=Path.cwd())
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--domain", default="")
    ap.add_argument("--reboot-scale", type=float, default=1.0)
    ap.add_argument("--max-shells", type=int, default=30, help="MaxShellsPerUser (30)")
    args = ap.parse_args()
    global REBOOT_SCALE
    REBOOT_SCALE = args.reboot_scale
    users = args.workdir / "ntlm-users"  # pyspnego's acceptor reads DOMAIN:USER:PASSWORD
    users.write_text(f":{args.user}:{args.password}\n"
                     + (f"{args.domain}:{args.user}:{args.password}\n" if args.domain else ""))
    os.environ["NTLM_USER_FILE"] = str(users)
    peer = Peer(args.user, args.password, args.workdir, encrypted_only=not args.tls)
    peer.basic = bool(args.basic)
    peer.max_shells = args.max_shells
    boots = args.workdir / "boots"
    state = {"server": None}
    rebooting = threading.Event()

    def start() -> None:
        server = http.server.ThreadingHTTPServer((args.address, args.port), handler_for(peer))
        server.daemon_threads = True
        if args.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*args.tls)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        state["server"] = server
        boots.write_text(str(int(boots.read_text()) + 1 if boots.exists() else 1))
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def reboot() -> None:
        server = state["server"]
        server.shutdown()
        server.server_close()
        peer.kill_all()
        time.sleep(args.downtime)
        start()
        rebooting.clear()

    def on_usr1(signum, frame) -> None:
        if not rebooting.is_set():
            rebooting.set()
            threading.Thread(target=reboot, daemon=True).start()

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    start()
    print("ready", flush=True)
    try:
        # Python runs signal handlers in the main thread only, and a signal the kernel gave
        # to a busy handler thread does not interrupt a long sleep here: wake up often.
        while True:
            time.sleep(0.1)
    finally:
        peer.kill_all()


if __name__ == "__main__":
    main()
