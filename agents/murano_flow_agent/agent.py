"""The guest agent: plans from its own durable queue, run one at a time, answered durably.

Two threads. The main thread owns the pika connection (pika is not thread-safe):
it receives plans, journals them to the spool, acks them, and publishes notices:
results with publisher confirms, "accepted" and heartbeats on a second channel without
(they only tell the engine the agent is alive, and the next heartbeat repeats what a
lost one said; waiting for their confirms doubled a round trip). The runner thread executes
plans one at a time and records each result in the spool before handing it to the
main thread for publishing. Every step is on disk before the next one is visible
to anyone, so a crash, a broker restart or a cut connection loses nothing:

* a plan acked is in the spool; a plan not acked is redelivered by the broker;
* a result recorded is published again until the broker confirms it;
* a plan id received again (redelivery, or an engine re-sending after its own
  restart) gets its recorded result, or "accepted" if it is still running —
  it is never run twice;
* a plan whose run outlived a killed agent is re-attached through its supervisor;
  one whose script never started is started now; one whose run left no record of how
  it ended is re-run only if its state is marked idempotent, otherwise reported lost;
* every plan accepted gets heartbeats until its result is published, also while it
  waits behind another one ("queued behind P"), so a busy agent never looks dead;
* a plan taken after the expiry signed into it is refused and reported "never
  started", never run: the engine had stopped waiting for it.
"""

from __future__ import annotations

import logging
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from murano_flow.errors import DecodeError, SignatureError
from murano_flow.wire.broker import Backoff, keep_connected
from murano_flow.wire.masking import Masker, masked_url
from murano_flow.wire.protocol import (
    NEVER_STARTED,
    OUTPUTS_NOT_KEPT,
    RESULTS_EXCHANGE,
    Notice,
    Plan,
    Result,
    reboot_due,
)
from murano_flow.wire.runner import ProcessRunner
from murano_flow.wire.signing import (
    AGENT,
    NONCE,
    STAMP,
    ReplayGuard,
    decrypt,
    encrypt,
    sign,
    verify,
)

from .config import AgentConfig
from .spool import Spool

log = logging.getLogger("murano_flow_agent")

#: Longest pause between reconnection attempts.
MAX_BACKOFF = 30.0
#: How long one turn of the main loop waits for broker traffic.
TICK = 0.1


class Agent:
    """One guest agent; ``run()`` until ``stop()``."""

    def __init__(self, config: AgentConfig) -> None:
        self.cfg = config
        self.spool = Spool(config.spool)
        self.guard = ReplayGuard(config.max_age)
        self.hosts: dict[str, ProcessRunner] = {}
        self.todo: queue.SimpleQueue[tuple[str, bool] | None] = queue.SimpleQueue()
        #: (what, plan id) from the runner to the main thread: "result" or "reboot".
        self.outbox: deque[tuple[str, str]] = deque()
        self.unpublished: set[str] = set()
        self.current: str | None = None
        #: Plans accepted and not yet started, oldest first (both threads; under _lock).
        self.queued: dict[str, None] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._channel: BlockingChannel | None = None
        #: Unconfirmed channel for "accepted" and heartbeats.
        self._advisory: BlockingChannel | None = None
        self._conn: pika.BlockingConnection | None = None
        self._last_beat = 0.0

    # -- life cycle ----------------------------------------------------------------

    def run(self) -> None:
        """Recover from the spool, then serve the queue until stopped, reconnecting."""
        self._recover()
        runner = threading.Thread(target=self._run_plans, name="plan-runner", daemon=True)
        runner.start()
        keep_connected(self.cfg.broker, self._session, what="agent", until=self.stopping.is_set,
                       wait=self.stopping.wait, backoff=Backoff(first=1.0, most=MAX_BACKOFF),
                       logger=log)
        self.todo.put(None)
        log.info("agent stopped; a plan still running goes on and is re-attached at restart")

    def stop(self) -> None:
        """Ask ``run`` to return (from a signal handler or another thread)."""
        self.stopping.set()

    def _recover(self) -> None:
        self.guard.load(self.spool.nonces())
        if self.spool.drop_published_bodies():
            log.info("dropped the bodies of answered plans that a crash had left in the spool")
        gone = self.spool.prune(time.time() - self.cfg.max_age)
        if gone:
            log.info("forgot %d finished plans older than the signature window", gone)
        for plan_id in self.spool.rebooting():
            log.info("the host is back from the reboot plan %s asked for", plan_id)
            self.spool.reboot_pending(plan_id, False)
        for plan_id in self.spool.interrupted():
            log.warning("plan %s was running when the agent stopped; re-attaching", plan_id)
            self.todo.put((plan_id, True))
        for plan_id in self.spool.waiting():
            self._queue(plan_id, False)
        self.unpublished.update(self.spool.unpublished())

    # -- the broker side (main thread) -------------------------------------------------

    def _session(self, conn: pika.BlockingConnection, outage: float) -> bool:
        try:
            channel = conn.channel()
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=1)
            channel.queue_declare(self.cfg.queue, durable=True)
            channel.basic_consume(self.cfg.queue, self._on_plan)
            self._advisory = conn.channel()
            self._channel, self._conn = channel, conn
            log.info("connected to %s; waiting for plans on queue %s",
                     masked_url(self.cfg.broker), self.cfg.queue)
            for plan_id in sorted(self.unpublished):
                self._publish_result(plan_id)
            while not self.stopping.is_set():
                conn.process_data_events(time_limit=TICK)
                if self._flush(conn, reboot_allowed=True):
                    return False  # the host reboots: reconnect once it is back
        finally:
            self._channel = self._advisory = self._conn = None
        return False

    def _wake(self) -> None:
        """From the runner: have the main thread publish now, not at its next tick."""
        conn = self._conn
        if conn is not None:
            try:
                conn.add_callback_threadsafe(lambda: self._flush(conn, reboot_allowed=False))
            except Exception:  # noqa: BLE001 - connection going away: the loop flushes later
                log.debug("wake-up skipped: connection not usable")

    def _flush(self, conn: pika.BlockingConnection, reboot_allowed: bool) -> bool:
        """Publish what the runner finished and due heartbeats; True after a reboot wait."""
        while self.outbox:
            what, plan_id = self.outbox[0]
            if what == "reboot":
                if not reboot_allowed:  # not from inside pika's callback: the loop does it
                    return False
                self.outbox.popleft()
                conn.close()
                self._reboot(plan_id)
                return True
            self.outbox.popleft()
            self.unpublished.add(plan_id)
            self._publish_result(plan_id)
        if time.monotonic() - self._last_beat >= self.cfg.heartbeat:
            self._last_beat = time.monotonic()
            self._beat()
        return False

    def _beat(self) -> None:
        """A heartbeat for the plan running and for each one waiting behind it."""
        current = self.current
        with self._lock:
            waiting = [p for p in self.queued if p != current]
        if current:
            self._notify(self.spool.reply_to(current),
                         Notice("heartbeat", self.cfg.queue, current, note="running"))
        for plan_id in waiting:
            self._notify(self.spool.reply_to(plan_id), Notice(
                "heartbeat", self.cfg.queue, plan_id,
                note=f"queued behind {current}" if current else "queued"))

    def _on_plan(self, channel: BlockingChannel, method: pika.spec.Basic.Deliver,
                 props: pika.BasicProperties, body: bytes) -> None:
        try:
            self._take(body, props.headers or {}, props.reply_to or "", bool(method.redelivered))
        except (pika.exceptions.AMQPError, OSError):
            raise  # the connection broke: not acked, so the broker redelivers it
        except Exception:  # a bug must not kill the agent; the engine will say "not accepted"
            log.exception("internal error handling a message on queue %s; it is dropped",
                          self.cfg.queue)
        channel.basic_ack(method.delivery_tag)  # only after the plan is journaled (or refused)

    def _take(self, body: bytes, headers: dict[str, Any], props_reply_to: str,
              redelivered: bool) -> None:
        try:
            verify(self.cfg.key, self.cfg.queue, body, headers, max_age=self.cfg.max_age)
            plan = Plan.decode(decrypt(self.cfg.key, body))
        except SignatureError as exc:
            log.error("REJECTED a message on queue %s: %s - %s; it is dropped",
                      self.cfg.queue, exc.reason, exc.cause)
            return
        except DecodeError as exc:
            log.error("REJECTED a signed message on queue %s: %s; it is dropped",
                      self.cfg.queue, exc)
            return
        reply_to = plan.reply_to  # the signed one: the AMQP property is not covered
        if not reply_to or props_reply_to not in ("", reply_to):
            log.error("REJECTED plan %s: %s; it is dropped", plan.id,
                      "its signed body names no queue for its result" if not reply_to else
                      f"its reply-to property '{props_reply_to}' differs from the signed "
                      f"'{reply_to}'")
            return
        nonce, stamp = str(headers[NONCE]), float(headers[STAMP])
        if self.guard.seen(nonce) and not redelivered:
            log.error("REJECTED plan %s: replayed (its nonce was already used); it is dropped",
                      plan.id)
            return
        if self.spool.known(plan.id):
            self._repeat(plan.id, reply_to)
            return
        if plan.expires and time.time() > plan.expires:
            self._refuse_expired(plan)
            return
        self.guard.check_and_add(nonce, stamp)
        self.spool.accept(plan.id, body, headers, reply_to)
        log.info("accepted plan %s (%s of %s, attempt %d)", plan.id, plan.kind, plan.node,
                 plan.attempt)
        self._queue(plan.id, False)
        self._notify(reply_to, Notice("accepted", self.cfg.queue, plan.id))

    def _queue(self, plan_id: str, reattach: bool) -> None:
        with self._lock:
            self.queued[plan_id] = None
        self.todo.put((plan_id, reattach))

    def _refuse_expired(self, plan: Plan) -> None:
        """Say that a late plan is not run; nothing is spooled, so a fresh copy (same id,
        a later expiry) sent by a resumed engine still runs."""
        late = time.time() - plan.expires
        log.error("REFUSED plan %s: taken %.0f s after its signed expiry; it is not run",
                  plan.id, late)
        now = time.time()
        self._notify(plan.reply_to, Notice("result", self.cfg.queue, plan.id, Result(
            plan.id, "error", started=now, finished=now,
            message=f"{NEVER_STARTED} the agent on queue {self.cfg.queue} took it {late:.0f} s "
                    "after its signed expiry, when the engine had stopped waiting for it")))

    def _repeat(self, plan_id: str, reply_to: str) -> None:
        """A plan id seen before: answer from the spool, never run it again."""
        self.spool.redirect(plan_id, reply_to)
        if self.spool.result(plan_id) is not None and not self.spool.reboot_is_pending(plan_id):
            log.info("plan %s received again; sending its recorded result", plan_id)
            self.unpublished.add(plan_id)
            self._publish_result(plan_id)
        else:
            log.info("plan %s received again; it is already queued or running", plan_id)
            self._notify(reply_to, Notice("accepted", self.cfg.queue, plan_id))

    def _publish_result(self, plan_id: str) -> None:
        data = self.spool.result(plan_id)
        if data is None:
            return
        try:
            result = Result.decode(data)
        except DecodeError as exc:
            log.error("the recorded result of plan %s is unreadable (%s); it is not sent",
                      plan_id, exc)
            self.unpublished.discard(plan_id)
            return
        if self._notify(self.spool.reply_to(plan_id),
                        Notice("result", self.cfg.queue, plan_id, result)):
            self._forget_secrets(plan_id, result)
            self.spool.published(plan_id)
        self.unpublished.discard(plan_id)

    def _forget_secrets(self, plan_id: str, result: Result) -> None:
        """Once the engine has the result, the spool keeps no secret: outputs that carry one
        are replaced by a 'lost' answer for a later asking (the plan body goes next)."""
        if not result.outputs:  # nothing that could carry a secret
            return
        body = self.spool.plan(plan_id)[0]
        if not body:  # already dropped (a result published again)
            return
        secrets = Plan.decode(decrypt(self.cfg.key, body)).secrets
        if Masker(secrets).data(result.outputs) != result.outputs:
            self.spool.finish(plan_id, replace(result, status="error", outputs={},
                                               message=OUTPUTS_NOT_KEPT).encode())

    def _notify(self, reply_to: str, notice: Notice) -> bool:
        """Publish a signed notice; True once the broker confirmed it (a result), or once
        it is handed to the connection (any other notice: never confirmed, see above)."""
        confirmed = notice.kind == "result"
        channel = self._channel if confirmed else self._advisory
        if channel is None:
            return False
        body = encrypt(self.cfg.key, notice.encode())
        headers = {**sign(self.cfg.key, reply_to, body), AGENT: self.cfg.queue}
        props = pika.BasicProperties(delivery_mode=2 if confirmed else 1,
                                     content_type="application/octet-stream",
                                     type=notice.kind, headers=headers)
        try:
            channel.basic_publish(RESULTS_EXCHANGE, reply_to, body, props, mandatory=confirmed)
        except pika.exceptions.UnroutableError:
            # a heartbeat for an engine that has gone is of no use to anyone
            log.log(logging.DEBUG if notice.kind == "heartbeat" else logging.WARNING,
                    "the %s of plan %s cannot be delivered: queue %s no longer exists; "
                    "it stays recorded and is sent when the plan is asked for again",
                    notice.kind, notice.plan_id, reply_to)
            return False
        return True

    def _reboot(self, plan_id: str) -> None:
        argv = list(self.cfg.reboot_command)
        log.warning("plan %s asks for a reboot: running %s", plan_id, " ".join(argv))
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=120, check=False)
            problem = f"exit code {done.returncode}" if done.returncode else ""
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = str(exc)
        if not problem and self.stopping.wait(self.cfg.reboot_wait):
            return  # stopped (the OS shutting us down): the result goes after the restart
        log.error("the host did not reboot (%s); sending the result of plan %s anyway",
                  problem or f"still up after {self.cfg.reboot_wait:g} s", plan_id)
        self.spool.reboot_pending(plan_id, False)
        self.unpublished.add(plan_id)

    # -- running plans (runner thread) -------------------------------------------------

    def _run_plans(self) -> None:
        while (item := self.todo.get()) is not None:
            plan_id, reattach = item
            try:
                self._execute(plan_id, reattach)
            except Exception:  # one broken plan must not stop the agent
                log.exception("internal error running plan %s", plan_id)
                self._record(plan_id, False, Result(plan_id, "error",
                                                    message="internal error in the agent"))
            finally:
                self.current = None
                with self._lock:
                    self.queued.pop(plan_id, None)

    def _execute(self, plan_id: str, reattach: bool) -> None:
        plan = self._plan(plan_id)
        host = self._host(plan)
        self.current = plan_id
        with self._lock:
            self.queued.pop(plan_id, None)
        # None: its script never started (or, for an idempotent state, left no record):
        # running it now cannot run it twice. A run that may have partly run comes back
        # as a lost result, reported as such.
        result = host.reattach(plan) if reattach else None
        if reattach and result is None:
            log.warning("plan %s was interrupted before its script ran%s; running it now",
                        plan_id, " (or is idempotent)" if plan.idempotent else "")
        if result is None:
            self.spool.start(plan_id)
            log.info("running plan %s", plan_id)
            result = host.send(plan)
        result, reboot = reboot_due(plan, result)
        self._record(plan_id, reboot, result)

    def _record(self, plan_id: str, reboot: bool, result: Result) -> None:
        self.spool.finish(plan_id, result.encode())
        log.info("plan %s: %s%s in %.1f s%s", plan_id, result.status,
                 "" if result.exit_code is None else f" (exit {result.exit_code})",
                 max(0.0, result.finished - result.started),
                 f" - {result.message}" if result.message else "")
        if reboot:
            self.spool.reboot_pending(plan_id)
            self.outbox.append(("reboot", plan_id))
        else:
            self.outbox.append(("result", plan_id))
        self._wake()

    def _plan(self, plan_id: str) -> Plan:
        """The spooled plan (kept encrypted as received), opened."""
        return Plan.decode(decrypt(self.cfg.key, self.spool.plan(plan_id)[0]))

    def _host(self, plan: Plan) -> ProcessRunner:
        """One working directory per entity, as the local transport keeps per host."""
        entity = str(plan.params.get("entity") or plan.node.split(".")[0])
        if entity not in self.hosts:
            self.hosts[entity] = ProcessRunner(self.cfg.spool / "work", entity)
        return self.hosts[entity]


def setup_logging(cfg: AgentConfig, level: int = logging.INFO) -> None:
    """Log to stdout and, if configured, a private file; secrets masked in both."""
    masker = Masker([cfg.key])
    password = urlsplit(cfg.broker).password
    if password:
        masker.add(password)

    class _Mask(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg, record.args = masker.text(record.getMessage()), None
            return True

    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if cfg.log_file:
        Path(cfg.log_file).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.log_file).touch(mode=0o600)
        handlers.append(logging.FileHandler(cfg.log_file, encoding="utf-8"))
    log.handlers.clear()
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(_Mask())
        log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False

