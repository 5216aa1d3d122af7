"""The blueprint schema knows exactly the host options each transport accepts, so
`validate` reports a misspelt option at its line instead of `deploy` failing later."""

from __future__ import annotations

import pytest

from murano_flow.blueprint.schema import schema
from murano_flow.transports import sshlogin, winrm
from murano_flow.transports.amqp import Limits


def schema_options(kind: str) -> set[str]:
    host = schema()["$defs"]["host"]["oneOf"][1]
    for rule in host["allOf"]:
        if rule["if"]["properties"]["transport"]["const"] == kind:
            return set(rule["then"]["properties"]["options"]["properties"])
    raise AssertionError(f"no options rule for {kind}")


@pytest.mark.parametrize("kind,accepted", [
    ("ssh", set(sshlogin.OPTIONS)),
    ("winrm", set(winrm._OPTIONS)),
    ("amqp", set(Limits.__dataclass_fields__)),
])
def test_the_schema_lists_every_option_the_transport_accepts(kind, accepted):
    assert schema_options(kind) == accepted
