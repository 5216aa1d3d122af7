"""``python -m murano_flow``."""

from murano_flow.cli.commands import main

main()
