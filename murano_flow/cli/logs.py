"""How murano-flow's processes log: text for people, or one JSON object per line
(``--log-format json``) for a log collector."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and the
    exception's text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(
                   timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name,
               "message": record.getMessage()}
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def configure(verbose: int, log_format: str) -> None:
    """Log at -v (our info), -vv (our debug), -vvv (the libraries' debug too), as text
    or JSON lines, to standard error."""
    ours = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)
    for name in ("murano_flow", "murano_flow_agent"):
        logging.getLogger(name).setLevel(ours)
    # pika logs every failed connection attempt, with tracebacks: only at -vvv. Our own
    # transport says once that the broker is out of reach and once that it is back.
    logging.getLogger("pika").setLevel(logging.DEBUG if verbose >= 3 else logging.CRITICAL)
