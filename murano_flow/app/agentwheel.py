"""The guest agent as a wheel of its own, built from this installation.

It holds only what the agent imports (``murano_flow_agent``, ``murano_flow.wire``,
``murano_flow.errors``), declares Python 3.9+ and pika, and is byte-for-byte the same for
the same release (fixed timestamps, sorted entries): its SHA-256 can be pinned in
user-data, and it is small enough (tens of KB) to be carried inside the user-data.
It is for VMs: it shares the ``murano_flow`` package name with the engine's wheel, so
install one of the two in an environment, not both.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import murano_flow
import murano_flow.wire

#: The agent's own metadata (what its code imports is checked for Python 3.9 by the tests).
REQUIRES_PYTHON = ">=3.9"
REQUIRES = ("pika>=1.3",)
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest a zip file can say: the same bytes every build


def _sources() -> list[tuple[str, Path]]:
    """(path in the wheel, file) of every module the agent needs, sorted."""
    import murano_flow_agent

    package = Path(murano_flow.__file__).parent
    out = [("murano_flow/__init__.py", package / "__init__.py"),
           ("murano_flow/errors.py", package / "errors.py")]
    for folder, prefix in ((Path(murano_flow.wire.__file__).parent, "murano_flow/wire"),
                           (Path(murano_flow_agent.__file__).parent, "murano_flow_agent")):
        out += [(f"{prefix}/{p.name}", p) for p in sorted(folder.glob("*.py"))]
    return sorted(out)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(
        b"=").decode()


def build(directory: Path) -> Path:
    """Write ``murano_flow_agent-VERSION-py3-none-any.whl`` into ``directory``; its path."""
    version = murano_flow.__version__
    info = f"murano_flow_agent-{version}.dist-info"
    files: list[tuple[str, bytes]] = [(name, path.read_bytes()) for name, path in _sources()]
    metadata = "\n".join([
        "Metadata-Version: 2.1", "Name: murano-flow-agent", f"Version: {version}",
        "Summary: murano-flow's guest agent: runs signed plans from a RabbitMQ queue",
        "License: Apache-2.0", f"Requires-Python: {REQUIRES_PYTHON}",
        *(f"Requires-Dist: {r}" for r in REQUIRES),
        "Provides-Extra: amqp",  # what the engine's wheel is installed with: pika anyway
        "", ""])
    files += [
        (f"{info}/METADATA", metadata.encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: murano-flow\n"
                          b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{info}/entry_points.txt",
         b"[console_scripts]\nmurano-flow-agent = murano_flow_agent.__main__:main\n"),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files)
    files.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"murano_flow_agent-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            z.writestr(entry, data)
    return target
