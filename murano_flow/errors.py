"""The one error tree of murano-flow.

::

    MuranoFlowError                      exit code 1 unless a subclass says otherwise
     +-- UsageError                      bad CLI arguments or parameters           (2)
     +-- BlueprintError                  a blueprint with one or more diagnostics   (2)
     +-- ExpressionError                 an expression fails to compile or evaluate (2)
     +-- TransitionError                 an illegal node/deployment state change
     +-- TransportError                  running an action failed at the transport  (3)
     |    +-- ConnectError               host, agent or broker unreachable          (3)
     |    |    +-- BrokerUnreachable     RabbitMQ down, or refusing us for good
     |    |    +-- HostKeyRefused        an SSH host key unknown, or not the expected one
     |    +-- InDoubt                    the action's outcome is unknown: it may have run
     +-- StoreError                      the journal cannot be used                 (3)
     |    +-- NotFound                   no such deployment                         (2)
     |    +-- CorruptState               the journal contradicts itself             (3)
     |    +-- LeaseLost                  another engine now drives the deployment   (3)
     +-- AccessDenied                    no valid API token, or one without the scope (2)
     +-- DecodeError                     a message or stored value does not decode  (2)
          +-- SignatureError             unsigned, mis-signed, stale or replayed message

Every error carries structured fields so that the CLI can print what went wrong,
where, and how to fix it, without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class MuranoFlowError(Exception):
    """Base of every error raised on purpose by murano-flow."""

    #: Process exit code the CLI uses for this error (DESIGN.md section 3).
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(MuranoFlowError):
    """Invalid command-line usage or deployment parameters."""

    exit_code = 2


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a blueprint, located as ``file:line:column``."""

    file: str
    line: int
    column: int
    message: str
    key: str = ""
    #: Where a part's file was included from, innermost first
    #: (``top.yaml:12:5 as part 'ad'``); empty for the top blueprint's own problems.
    chain: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        text = f"{where}: {self.message}" + (f" [{self.key}]" if self.key else "")
        return text + "".join(f"\n  included from {link}" for link in self.chain)


class BlueprintError(MuranoFlowError):
    """A blueprint (or its parameters) is invalid; carries every diagnostic found."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics), key=lambda d: (d.file, d.line, d.column,
                                                                    d.message))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class ExpressionError(MuranoFlowError):
    """An expression of a blueprint failed to compile or to evaluate."""

    exit_code = 2


class TransitionError(MuranoFlowError):
    """A node or deployment was asked to make a move its state machine forbids."""

    def __init__(self, subject: str, state: str, event: str) -> None:
        super().__init__(f"{subject}: cannot '{event}' while {state}")
        self.subject, self.state, self.event = subject, state, event


class TransportError(MuranoFlowError):
    """An action could not be run by its transport."""

    exit_code = 3

    def __init__(self, message: str, *, host: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.host = host


class ConnectError(TransportError):
    """The host, agent or broker cannot be reached."""


class HostKeyRefused(ConnectError):
    """An SSH host's key is unknown, or not the one expected (host keys are verified)."""


class BrokerUnreachable(ConnectError):
    """RabbitMQ cannot be reached; ``refused`` when trying again cannot help (the login,
    the virtual host, an untrusted certificate, a malformed URL)."""

    def __init__(self, message: str, *, reason: str = "", refused: bool = False,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason or message
        self.refused = refused


class InDoubt(TransportError):
    """The engine cannot know whether an action ran: it stopped waiting for it (shutting
    down, an agent gone silent, a broker out of reach past the plan's own deadline, a
    connection lost mid-run) while it may go on, or have ended, on its host. Never a
    failure and never retried: the node keeps its plan id and a later run asks the host
    for that plan's result; only the operator's explicit choice runs it again."""


class StoreError(MuranoFlowError):
    """The journal cannot be opened, read or written."""

    exit_code = 3


class NotFound(StoreError):
    """The journal has no such deployment."""

    exit_code = 2


class CorruptState(StoreError):
    """The journal holds something that cannot be right (e.g. an unknown state)."""


class LeaseLost(StoreError):
    """This engine's lease on a deployment expired or was taken: it must not write more."""


class AccessDenied(MuranoFlowError):
    """An API request without a valid token (``needed`` ''), or whose token lacks the
    scope ``needed``."""

    exit_code = 2

    def __init__(self, message: str, *, needed: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.needed = needed


class DecodeError(MuranoFlowError):
    """A message, file or stored value could not be decoded."""

    exit_code = 2

    def __init__(self, what: str, cause: str) -> None:
        super().__init__(f"cannot decode {what}: {cause}")
        self.what, self.cause = what, cause


class SignatureError(DecodeError):
    """A message failed authentication; ``reason`` is one of REASONS."""

    #: Why a message can be refused.
    REASONS = ("unsigned", "mis-signed", "wrong-queue", "stale", "replayed", "undecryptable")

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__("message", f"{reason}: {detail}")
        self.reason = reason
