"""Fixtures for the fault-injection suite (defined in tests/brokerkit.py and tests/sshkit.py)."""

from brokerkit import agents, broker_url, exchange, forwarder  # noqa: F401 - fixtures
from sshkit import sshd  # noqa: F401 - fixture
