"""Fixtures for the tests against the WinRM protocol peer (defined in tests/kits/winrm.py)."""

from kits.winrm import winrm_http, winrm_https  # noqa: F401 - fixtures
