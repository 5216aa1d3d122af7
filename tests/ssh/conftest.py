"""Fixtures for the tests against a real sshd (defined in tests/sshkit.py)."""

from sshkit import sshd  # noqa: F401 - fixture
