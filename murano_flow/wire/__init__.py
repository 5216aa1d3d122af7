"""What crosses between the engine and the hosts' guest agents: the message schema
(:mod:`.protocol`), its authentication and encryption (:mod:`.signing`), secret masking
(:mod:`.masking`). The guest agent imports nothing else of murano-flow but this package and
:mod:`murano_flow.errors`, so it needs only pika and the standard library on a VM."""
