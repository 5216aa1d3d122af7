"""The API's documents: what requests carry and responses hold. The OpenAPI document is
generated from these, so what it promises is what the server checks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: A deployment id, as the CLI's --id takes it.
DEPLOYMENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
#: A blueprint's name.
BLUEPRINT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
#: A duration: 90s, 1h30m, 2d12h (as the CLI's DURATION).
DURATION = r"^[0-9][0-9a-z.]{0,31}$"
MAX_TEXT = 4 << 20


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Upload(Strict):
    """A blueprint and the files it reads (scripts, parts, libraries), by path from its
    folder; nothing is read from the server's disk."""

    path: str = Field(min_length=1, max_length=132, examples=["webfarm.yaml"],
                      description="The file name messages cite as path:line.")
    text: str = Field(max_length=MAX_TEXT, description="The blueprint's YAML.")
    files: dict[str, str] = Field(default_factory=dict,
                                  description="Path from the blueprint's folder -> text.")


class Validated(BaseModel):
    name: str
    states: int
    parameters: list[str]
    #: Parameters without a value, for which placeholders stood in.
    assumed: list[str]


class Version(BaseModel):
    name: str
    version: int
    path: str
    digest: str
    created: float
    author: str
    files: list[str]


class Stored(Version):
    new: bool = Field(description="False when the upload was identical to the newest "
                                  "version, which is returned")


class VersionText(Version):
    text: str
    texts: dict[str, str] = Field(description="Each file's text")


Params = dict[str, Any]
OnFailure = Literal["stop", "continue", "rollback"]


class NewDeployment(Strict):
    """Deploy a stored blueprint version; with the ``id`` of an existing deployment,
    converge it to that version."""

    blueprint: str = Field(pattern=BLUEPRINT_NAME, max_length=128)
    version: int | None = Field(None, ge=1, le=2**31 - 1,
                                description="Default: the newest version")
    id: str | None = Field(None, pattern=DEPLOYMENT_ID, max_length=128)
    params: Params = Field(default_factory=dict,
                           description="Parameter values; secrets are never stored nor "
                                       "returned in the clear")
    on_failure: OnFailure | None = None
    deadline: str | None = Field(None, pattern=DURATION, max_length=32)
    new: bool = Field(False, description="Start another deployment even if one of the same "
                                         "blueprint is unfinished")


class DryRunRequest(Strict):
    blueprint: str | None = Field(None, pattern=BLUEPRINT_NAME, max_length=128,
                                  description="Default: the blueprint the deployment runs")
    version: int | None = Field(None, ge=1, le=2**31 - 1)
    params: Params = Field(default_factory=dict)


class Continue(Strict):
    params: Params = Field(default_factory=dict,
                           description="Secret parameters, if the deployment has any")


class Stop(Strict):
    now: bool = Field(False, description="Stop running actions too (else they finish)")


class SignalRequest(Strict):
    state: str = Field(min_length=1, max_length=300)
    data: dict[str, Any] = Field(default_factory=dict)


class NewToken(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    scope: Literal["read", "operate", "admin"]


class Token(BaseModel):
    id: str
    name: str
    scope: str
    created: float
    revoked: float


class CreatedToken(Token):
    token: str = Field(description="Shown this once; only its digest is kept")


class Accepted(BaseModel):
    """What the engines were asked to do."""

    deployment: str
    what: str
    message: str
    engines: int = Field(description="Engine services running (0: a background engine "
                                     "was started for it)")


class Deployment(BaseModel):
    id: str
    blueprint: str
    path: str
    digest: str
    state: str
    created: float
    updated: float
    params: dict[str, Any]
    targets: list[str]
    reason: str
    owner: str
    control: str
    settings: dict[str, Any]
    lease: float
    request: str
    stored: dict[str, Any] | None = Field(None, description="The stored blueprint version "
                                                            "it runs: name, version, digest")


class Node(BaseModel):
    name: str
    instance: str
    state: str
    status: str
    intention: str
    host: str
    attempt: int
    started: float | None
    finished: float | None
    exit_code: int | None
    reason: str
    outputs: dict[str, Any]
    stdout_tail: str
    stderr_tail: str
    log_dir: str
    requires: list[str]
    has_action: bool
    tries: int
    inputs: str
    waiting: dict[str, Any]


class DeploymentDetail(Deployment):
    nodes: list[Node]


class Event(BaseModel):
    seq: int
    deployment: str
    ts: float
    kind: str
    node: str
    status: str
    attempt: int
    message: str
    data: dict[str, Any]
    engine: str


class Step(BaseModel):
    state: str
    would: str
    why: str
    diff: list[tuple[str, Any, Any]]


class DryRun(BaseModel):
    deployment: str | None
    blueprint: str
    changes: bool
    counts: dict[str, int]
    steps: list[Step]


class EngineInfo(BaseModel):
    id: str
    seen: float
    expires: float
    info: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok"]
    journal: str
    newest_event: int


class Problem(BaseModel):
    """An error (RFC 9457), with the CLI's message as ``detail`` and its ``hint``."""

    type: str
    title: str
    status: int
    detail: str
    hint: str | None = None
    diagnostics: list[dict[str, Any]] | None = Field(
        None, description="A blueprint's problems: file, line, column, message, text")
    errors: list[dict[str, Any]] | None = Field(
        None, description="Which request fields are invalid (their values never echoed)")


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}  # as problem+json: see openapi


#: The error responses every route may give, as problem documents.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem("A malformed request or cursor"),
    401: _problem("No valid API token"),
    403: _problem("The token's scope is too small"),
    404: _problem("No such deployment, blueprint, version or token"),
    409: _problem("Not possible in the deployment's state (the CLI's message says why)"),
    413: _problem("The request body is too large"),
    422: _problem("Invalid fields, or an invalid blueprint (every problem as file:line)"),
    503: _problem("The journal cannot be used"),
}


class NewTrigger(Strict):
    """A trigger the engine services fire: ``cron`` (with ``timezone``) or ``on_message``
    (``EXCHANGE:ROUTING_KEY``, with ``match`` filters and ``from_user``)."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    blueprint: str = Field(pattern=BLUEPRINT_NAME, max_length=128)
    version: int | None = Field(None, ge=1, le=2**31 - 1,
                                description="Default: the newest version when it fires")
    deployment: str = Field("", pattern=r"^(|[A-Za-z0-9][A-Za-z0-9._-]{0,127})$",
                            max_length=128,
                            description="Converge this deployment each time ('': a new one)")
    params: Params = Field(default_factory=dict)
    cron: str | None = Field(None, max_length=200)
    timezone: str = Field("UTC", max_length=100)
    on_message: str | None = Field(None, max_length=400)
    match: dict[str, Any] = Field(default_factory=dict)
    from_user: str = Field("", max_length=200)


class TriggerDoc(BaseModel):
    id: str
    kind: str
    spec: dict[str, Any]
    blueprint: str
    version: int | None
    deployment: str
    params: dict[str, Any]
    due: float
    created: float
    fired: int
    last: str


class AgentInfo(BaseModel):
    queue: str
    connected: bool | None = Field(description="A consumer is on its queue now (None: the "
                                               "broker could not be asked; see note)")
    consumers: int
    waiting: int = Field(description="Plans waiting in its queue")
    holds: list[str] = Field(description="deployment/state (status) it holds now")
    deployments: list[str]
    note: str


class ProbeDoc(BaseModel):
    node: str
    host: str
    verdict: Literal["holds", "drifted", "unknown"]
    detail: str


class CheckDoc(BaseModel):
    deployment: str
    drifted: list[str]
    probes: list[ProbeDoc]
