"""The live server fuzzed from its own OpenAPI document (docs/openapi.json): for any
input, no server error, only documented status codes and content types, and responses
that match their documented schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kits.api import ApiServer
from kits.common import ROOT

pytestmark = pytest.mark.integration

HARMLESS = """\
format: 1
name: zero
entities:
  app:
    host: {transport: local, name: "app-{{ deployment }}"}
    states:
      Deployed: {action: "echo hello", undo: "echo bye"}
"""
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")


def test_no_input_makes_the_server_fail_or_answer_off_its_document(api: ApiServer,
                                                                    tmp_path: Path):
    # Something real behind the ids the fuzzer tries first ("0"): a blueprint and a
    # finished deployment of it, so that operations on a deployment are reached too.
    with api.client("operate") as ops:
        assert ops.post("/v1/blueprints", json={"path": "zero.yaml",
                                                "text": HARMLESS}).status_code == 201
        assert ops.post("/v1/deployments", json={"blueprint": "zero", "id": "0"}
                        ).status_code == 202
    assert api.cli("wait", "0", "--timeout", "5m").returncode == 0
    run = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run",
         str(ROOT / "docs" / "openapi.json"), "--url", api.url,
         "--header", f"Authorization: Bearer {api.tokens['admin']}",
         "--checks", CHECKS, "--phases", "examples,coverage,fuzzing",
         "--max-examples", "25", "--workers", "1", "--seed", "20261204",
         # revoking tokens is tested on its own: fuzzed, it revokes the fuzzer's own;
         # streams go on until the client leaves (their cursors are tested on their own)
         "--exclude-path", "/v1/tokens/{token_id}", "--exclude-path-regex", "/stream$"],
        capture_output=True, text=True, cwd=tmp_path, check=False)
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    summary = run.stdout.split("SUMMARY")[-1]
    assert " passed" in summary and "failures" not in summary, report
