"""``python -m murano_flow``."""

from murano_flow.cli import main

main()
