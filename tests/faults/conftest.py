"""Fixtures for the fault-injection suite (defined in tests/kits/broker.py and ssh.py)."""

from kits.broker import agents, broker_url, exchange, forwarder  # noqa: F401 - fixtures
from kits.ssh import sshd  # noqa: F401 - fixture
