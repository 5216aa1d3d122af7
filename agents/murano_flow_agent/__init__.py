"""The murano-flow guest agent: runs plans from its own queue, one at a time, durably.

It imports only the wire modules of murano-flow (``murano_flow.wire.protocol``,
``murano_flow.wire.signing``, ``murano_flow.errors``) and pika, so it can be installed on
a VM without the engine's dependencies.
"""
