"""Runs on a WinRM host with Python: the plan's envelope (JSON) arrives on stdin.

Standard library only; the winrm transport sends it base64-encoded on the command line
and it runs as ``__main__`` there (importing it does nothing).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile


def main() -> int:
    """Run the envelope's script with its params file and environment; print its outputs
    after the envelope's marker; remove every file; exit with the script's code."""
    envelope = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    rundir = tempfile.mkdtemp(prefix="murano-flow-")  # private to this user
    try:
        script = os.path.join(rundir, "script.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(envelope["body"])
        params = os.path.join(rundir, "params.json")
        with os.fdopen(os.open(params, os.O_WRONLY | os.O_CREAT, 0o600), "w",
                       encoding="utf-8") as f:
            json.dump(envelope["params"], f)
        output = os.path.join(rundir, "output.json")
        env = dict(os.environ, **envelope["env"], MURANO_FLOW_PARAMS=params,
                   MURANO_FLOW_OUTPUT=output)
        sys.stdout.flush()
        code = subprocess.call([sys.executable, script, *envelope["args"]], env=env,
                               stdin=subprocess.DEVNULL)
        if os.path.exists(output):
            with open(output, encoding="utf-8") as f:
                data = " ".join(f.read().splitlines())
            sys.stdout.write("\n" + envelope["marker"] + data + "\n")
            sys.stdout.flush()
        return code
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
