"""Write docs/openapi.json: the HTTP API's OpenAPI document, generated from its routes
(tests/test_docs.py fails when the file is out of date; the fuzzing tests use it).

    .venv/bin/python scripts/openapi.py > docs/openapi.json
"""

from __future__ import annotations

import json

from murano_flow.api import create_app
from murano_flow.app.settings import Settings


def document() -> str:
    """The OpenAPI document as the server generates it, as stable JSON text."""
    app = create_app(Settings("sqlite:///unused.db", ".murano-flow", "amqp://"))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(document(), end="")
