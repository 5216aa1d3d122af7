"""``murano-flow-agent --config FILE`` (also ``murano-flow agent run``): run the guest agent."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from murano_flow.errors import MuranoFlowError


def main(argv: list[str] | None = None) -> int:
    """Run the agent until SIGTERM/SIGINT; exit 2 on a bad config."""
    parser = argparse.ArgumentParser(prog="murano-flow-agent", description=__doc__)
    parser.add_argument("--config", required=True, help="the agent's JSON config file")
    parser.add_argument("--debug", action="store_true", help="log pika's own messages too")
    args = parser.parse_args(argv)
    try:
        import pika  # noqa: F401 - fail here, clearly, rather than deep inside
    except ImportError:
        print("error: the agent needs pika: pip install 'murano-flow[amqp]' (or pika)",
              file=sys.stderr)
        return 2
    from .agent import Agent, setup_logging
    from .config import load
    try:
        cfg = load(args.config)
    except MuranoFlowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    setup_logging(cfg)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG)
    agent = Agent(cfg)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: agent.stop())
    agent.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
