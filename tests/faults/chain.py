"""The blueprint the crash tests deploy, written from Python so its size is a parameter.

``members`` entities ``svc[i]`` with five states each (hosts local, the agents on
queues QUEUE.0 and QUEUE.1 with ``transport=amqp``, or an sshd on 127.0.0.1:SSH_PORT with
``transport=ssh``), requirements inside each member
and across members, plus a load balancer needing them all: 5 * members + 2 states.
Every action appends one ``start`` and one ``end`` line (node, attempt) to the file
named by COUNTER, and every undo an ``undo`` line: the tests count side effects there.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

ACTION = textwrap.dedent("""\
    #!/bin/sh
    # one side effect per run: a line at the start, a line at the end
    printf 'start %s %s\\n' "$MURANO_FLOW_NODE" "$MURANO_FLOW_ATTEMPT" >> "$COUNTER"
    sleep "${PAUSE:-0.05}"
    if [ -n "$FAIL_NODE" ] && [ "$FAIL_NODE" = "$MURANO_FLOW_NODE" ]; then
        echo "failing on purpose" >&2
        exit 3
    fi
    printf 'end %s %s\\n' "$MURANO_FLOW_NODE" "$MURANO_FLOW_ATTEMPT" >> "$COUNTER"
    """)

UNDO = textwrap.dedent("""\
    #!/bin/sh
    printf 'undo %s %s\\n' "$MURANO_FLOW_NODE" "$MURANO_FLOW_ATTEMPT" >> "$COUNTER"
    sleep "${UNDO_PAUSE:-0.05}"
    """)


#: The ssh host fields (ignored by the local and amqp transports).
SSH = ("address: 127.0.0.1", "port: '{{ params.ssh_port }}'", "key_file: '{{ params.ssh_key }}'",
       "options: {workdir: '{{ params.ssh_workdir }}'}")


def write(directory: Path, members: int = 10, on_failure: str = "stop") -> Path:
    """Write the blueprint and its scripts into ``directory``; return the blueprint path."""
    (directory / "act.sh").write_text(ACTION)
    (directory / "undo.sh").write_text(UNDO)
    env = "COUNTER: '{{ params.counter }}', PAUSE: '{{ params.pause }}'"
    step = f"{{script: act.sh, env: {{{env}, FAIL_NODE: '{{{{ params.fail }}}}'}}}}"
    undo = f"{{script: undo.sh, env: {{{env}, UNDO_PAUSE: '{{{{ params.undo_pause }}}}'}}}}"
    ssh = ("\n" + " " * 14).join(SSH)  # the host mapping's indentation below
    text = textwrap.dedent(f"""\
        format: 1
        name: chain
        on_failure: {on_failure}
        parameters:
          counter: {{type: string}}
          pause: {{type: string, default: "0.05"}}
          undo_pause: {{type: string, default: "0.05"}}
          fail: {{type: string, default: ""}}
          transport: {{type: string, default: local, allowed: [local, amqp, ssh]}}
          queue: {{type: string, default: "mf-faults"}}
          ssh_port: {{type: integer, default: 22}}
          ssh_key: {{type: string, default: ""}}
          ssh_workdir: {{type: string, default: .murano-flow}}
          shared: {{type: boolean, default: false}}  # several deployments on the same agents
        entities:
          svc:
            count: {members}
            host:
              transport: "{{{{ params.transport }}}}"
              name: "svc-{{{{ index }}}}"
              queue: "{{{{ params.queue }}}}.{{{{ index % 2 }}}}"
              shared: "{{{{ params.shared }}}}"
              {ssh}
            states:
              Prepared: {{action: {step}, undo: {undo}}}
              Installed: {{requires: Prepared, action: {step}, undo: {undo}}}
              Configured:
                requires: [Installed, "svc[0].Installed"]
                action: {step}
                undo: {undo}
              Started: {{requires: Configured, action: {step}, undo: {undo}}}
              Deployed: {{requires: Started}}
          lb:
            host:
              transport: "{{{{ params.transport }}}}"
              name: lb
              queue: "{{{{ params.queue }}}}.0"
              shared: "{{{{ params.shared }}}}"
              {ssh}
            states:
              Configured: {{requires: ["svc[*].Started"], action: {step}, undo: {undo}}}
              Deployed: {{requires: Configured}}
        """)
    path = directory / "chain.yaml"
    path.write_text(text)
    return path
