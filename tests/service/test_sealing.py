"""Secret parameters sealed for engine services, and URLs printed without passwords."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest
from kits.postgres import pg_url  # noqa: F401 - fixture

from murano_flow.errors import UsageError
from murano_flow.store.sealing import seal, unseal
from murano_flow.wire.masking import masked_url


def test_sealed_values_open_only_with_the_same_secret():
    token = seal("engines-secret", {"admin_password": "P@ss w0rd"})
    assert "P@ss" not in token
    assert unseal("engines-secret", token) == {"admin_password": "P@ss w0rd"}
    with pytest.raises(UsageError, match="sealed with another engine secret") as err:
        unseal("another-secret", token)
    assert "MURANO_FLOW_AGENT_SECRET" in (err.value.hint or "")
    with pytest.raises(UsageError, match="sealed with another engine secret"):
        unseal("engines-secret", token[:-4] + "AAAA")  # tampered


def test_masked_url():
    assert masked_url("postgresql://u:s3cret@db:5432/j") == "postgresql://u:******@db:5432/j"
    assert masked_url("amqp://guest@host/") == "amqp://guest@host/"


@pytest.mark.integration
def test_engine_serve_never_prints_the_database_password(tmp_path, pg_url):  # noqa: F811
    parts = urlsplit(pg_url)  # the test server trusts local users: any password is let in
    url = urlunsplit(parts._replace(netloc=f"{parts.username}:hunter2-pw@{parts.hostname}:"
                                           f"{parts.port}"))
    done = subprocess.run([sys.executable, "-m", "murano_flow", "--store", url, "--home",
                           str(tmp_path), "engine", "serve", "--exit-when-idle", "1s"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "serving postgresql://postgres:******@" in done.stderr
    assert "hunter2" not in done.stdout + done.stderr
