"""Fixtures for the fault-injection suite (the broker ones are in tests/brokerkit.py)."""

from brokerkit import agents, broker_url, forwarder  # noqa: F401 - fixtures
