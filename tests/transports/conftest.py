"""Fixtures of the transport contract suite: every real service it runs against."""

from kits.broker import agents, broker_url  # noqa: F401 - fixtures
from kits.ssh import sshd  # noqa: F401 - fixture
from kits.winrm import winrm_https  # noqa: F401 - fixture
