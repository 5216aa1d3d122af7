"""PowerShell's CLIXML on stderr: keep the records a person should read, drop the noise.

A non-interactive ``powershell.exe`` serialises its error, warning, verbose and
progress streams as CLIXML on stderr (``#< CLIXML`` then an ``<Objs>`` document),
even when the script succeeded: "Preparing modules for first use" progress records
are the classic false alarm of tools that treat "stderr non-empty" as failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

_HEADER = "#< CLIXML"
_NS = "{http://schemas.microsoft.com/powershell/2004/04}"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
#: Streams a string record may belong to, as PowerShell names them.
_STREAMS = {"error": "ERROR", "warning": "WARNING", "verbose": "VERBOSE", "debug": "DEBUG",
            "information": "INFO"}


@dataclass
class Stderr:
    """stderr with CLIXML decoded: readable ``text`` and the error records found."""

    text: str
    errors: list[str] = field(default_factory=list)
    dropped: int = 0  # progress records left out


def parse(raw: str) -> Stderr:
    """Decode every CLIXML block of ``raw``; text outside the blocks is kept as it is.
    A block that does not parse is kept verbatim (never lose what the host said)."""
    if _HEADER not in raw:
        return Stderr(raw)
    out = Stderr("")
    pieces = raw.split(_HEADER)
    text = [pieces[0]]
    for piece in pieces[1:]:
        body = piece.lstrip("\r\n")
        end = body.find("</Objs>")
        if end < 0:
            text.append(_HEADER + piece)
            continue
        try:
            root = fromstring(body[:end + len("</Objs>")])  # the host's text: no entities
        except (ParseError, DefusedXmlException):
            text.append(_HEADER + piece)
            continue
        for record in root:
            kind = (record.get("S") or "").lower()
            if record.tag == f"{_NS}S":
                line = _unescape(record.text or "").rstrip("\r\n")
                label = _STREAMS.get(kind, kind.upper() or "OUTPUT")
                text.append(f"{label}: {line}\n")
                if kind == "error":
                    out.errors.append(line)
            elif kind == "progress":
                out.dropped += 1
            else:
                shown = record.find(f"{_NS}ToString")
                if shown is not None and shown.text:
                    text.append(_unescape(shown.text).rstrip("\r\n") + "\n")
        text.append(body[end + len("</Objs>"):].lstrip("\r\n"))
    out.text = "".join(text)
    return out


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
