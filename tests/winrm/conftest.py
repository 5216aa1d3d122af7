"""Fixtures for the tests against the WinRM protocol peer (defined in tests/winrmkit.py)."""

from winrmkit import winrm_http, winrm_https  # noqa: F401 - fixtures
