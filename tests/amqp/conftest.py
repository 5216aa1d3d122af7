"""Fixtures for the tests against the real broker (defined in tests/brokerkit.py)."""

from brokerkit import agents, broker_url, exchange, forwarder, tls_broker  # noqa: F401 - fixtures
