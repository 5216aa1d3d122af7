"""Broker URLs: TLS options murano-flow reads itself, and clear errors for bad ones."""

from __future__ import annotations

import pytest

from murano_flow.wire.broker import connection_parameters


def test_tls_options_need_an_amqps_url():
    with pytest.raises(ValueError, match="cafile in the broker URL need an amqps:// URL"):
        connection_parameters("amqp://u:p@127.0.0.1:5672/%2F?cafile=/etc/ca.pem")


def test_an_amqps_url_verifies_the_broker_and_keeps_pikas_own_options(tmp_path):
    params = connection_parameters("amqps://u:p@mq.example.net/%2F?heartbeat=7")
    context = params.ssl_options.context
    assert context.check_hostname and params.ssl_options.server_hostname == "mq.example.net"
    assert params.port == 5671 and params.heartbeat == 7
    with pytest.raises(FileNotFoundError):
        connection_parameters(f"amqps://u:p@mq/%2F?cafile={tmp_path / 'missing.pem'}")
