"""Profile murano-flow's engine thread on one shape: ``python -m bench.profile layered-10000``."""

from __future__ import annotations

import cProfile
import pstats
import sys

from murano_flow import Engine, MemoryStore, parse_blueprint
from murano_flow.transports.base import Transport
from murano_flow.wire.protocol import Plan, Result

from .contenders import blueprint_text
from .shapes import by_name


class _Instant(Transport):
    def send(self, plan: Plan) -> Result:
        return Result(plan.id, "ok", 0)


def main(shape_name: str = "layered-10000", top: int = 25) -> None:
    bp = parse_blueprint(blueprint_text(by_name(shape_name)), f"{shape_name}.yaml")
    transport = _Instant()
    engine = Engine(MemoryStore(), lambda kind, fields: transport, workers=8)
    dep = engine.create(bp)
    profile = cProfile.Profile()
    profile.runcall(engine.deploy, bp, dep.id)
    pstats.Stats(profile).sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    main(*sys.argv[1:2])
