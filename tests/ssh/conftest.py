"""Fixtures for the tests against a real sshd (defined in tests/kits/ssh.py)."""

from kits.ssh import sshd  # noqa: F401 - fixture
