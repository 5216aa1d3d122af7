"""Who may do what through the API, and what it refuses: no token, a mistyped or revoked
one, a read-only token operating, oversized and hostile uploads, forged cursors, and
secrets that must never come back (nor be stored or logged in the clear)."""

from __future__ import annotations

import ssl
import subprocess

import httpx
import pytest
from kits.api import MF, ApiServer, bundle

PROBLEM = "application/problem+json"
SECRET_BP = """\
format: 1
name: sealed
parameters:
  password: {type: string, secret: true}
entities:
  app:
    host: {transport: local, name: "app-{{ deployment }}"}
    states:
      Deployed:
        action: {inline: 'test -n "$PW"', env: {PW: "{{ params.password }}"}}
"""
SECRET = "s3cr3t-Horse-Battery"


def test_no_token_a_mistyped_one_and_a_revoked_one_are_refused(api: ApiServer):
    with api.client(None) as anon:
        for path in ("/v1/deployments", "/v1/blueprints", "/v1/events", "/metrics"):
            r = anon.get(path)
            assert r.status_code == 401 and r.headers["content-type"] == PROBLEM, path
            assert r.headers["www-authenticate"] == "Bearer"
            assert "needs an API token" in r.json()["detail"]
        bogus = anon.get("/v1/deployments", headers={"Authorization": "Bearer mft_nope"})
        assert bogus.status_code == 401 and "not valid" in bogus.json()["detail"]
        assert anon.get("/healthz").status_code == 200  # says nothing about deployments
    token_id = api.tokens["read"].split("_")[1]
    assert api.cli("token", "revoke", token_id).returncode == 0
    with api.client("read") as revoked:
        r = revoked.get("/v1/deployments")
    assert r.status_code == 401 and "was revoked at" in r.json()["detail"]
    listed = api.cli("token", "list", "-f", "json").stdout
    assert "mft_" not in listed and token_id in listed  # digests only, never the tokens


def test_a_read_token_reads_but_cannot_operate_and_only_admin_manages_tokens(api: ApiServer):
    with api.client("read") as reader, api.client("operate") as operator:
        assert reader.get("/v1/blueprints").status_code == 200
        up = reader.post("/v1/blueprints", json=bundle())
        assert up.status_code == 403 and "needs 'operate'" in up.json()["detail"]
        assert operator.post("/v1/blueprints", json=bundle()).status_code == 201
        dep = reader.post("/v1/deployments", json={"blueprint": "webfarm"})
        assert dep.status_code == 403
        assert operator.get("/v1/tokens").status_code == 403
        assert reader.get("/v1/deployments").json() == []  # nothing was deployed
    with api.client("admin") as admin:
        made = admin.post("/v1/tokens", json={"name": "ci", "scope": "read"}).json()
        assert made["token"].startswith("mft_") and made["scope"] == "read"
        listed = admin.get("/v1/tokens").json()
        assert made["id"] in [t["id"] for t in listed]
        assert all("token" not in t and "digest" not in t for t in listed)
        assert admin.delete(f"/v1/tokens/{made['id']}").status_code == 204
    with httpx.Client(base_url=api.url, headers={
            "Authorization": f"Bearer {made['token']}"}) as gone:
        assert gone.get("/v1/blueprints").status_code == 401


def test_oversized_bodies_are_refused_before_they_are_read(api: ApiServer):
    with api.client("operate") as operator:
        huge = operator.post("/v1/blueprints", content=b"x" * (9 << 20),
                             headers={"content-type": "application/json"})
        assert huge.status_code == 413 and huge.headers["content-type"] == PROBLEM
        assert "larger than 8388608 bytes" in huge.json()["detail"]

        def chunks():  # no Content-Length: refused once the stream passes the limit
            for _ in range(20):
                yield b" " * (1 << 20)

        streamed = operator.post("/v1/blueprints", content=chunks(),
                                 headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert operator.get("/v1/blueprints").json() == []  # nothing half-stored


def test_hostile_blueprints_get_their_problems_located_and_nothing_is_stored(api: ApiServer):
    bomb = "format: 1\nname: bomb\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    with api.client("operate") as operator:
        r = operator.post("/v1/blueprints", json={"path": "bomb.yaml", "text": bomb})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert "alias bomb" in r.json()["detail"]
        broken = operator.post("/v1/blueprints", json={
            "path": "farm.yaml", "text": "format: 1\nname: farm\nentities:\n  a:\n"
                                         "    states:\n      Deployed: {requires: Nope}\n"})
        problem = broken.json()
        assert broken.status_code == 422 and problem["title"] == "invalid blueprint"
        assert problem["diagnostics"][0]["file"] == "farm.yaml"
        assert problem["diagnostics"][0]["line"] == 6  # file:line, as the CLI says it
        escape = operator.post("/v1/blueprints", json={"path": "../etc/x.yaml", "text": ""})
        assert escape.status_code == 409 and "plain YAML file name" in escape.json()["detail"]
        # a script the upload does not carry is not read from the server's disk
        disk = operator.post("/v1/blueprints", json={
            "path": "d.yaml", "text": "format: 1\nname: d\nentities:\n  a:\n    states:\n"
                                      "      Deployed: {action: {script: /etc/passwd}}\n"})
        assert disk.status_code == 422 and "root:" not in disk.text
        assert operator.get("/v1/blueprints").json() == []


def test_forged_cursors_are_refused(api: ApiServer):
    with api.client("read") as reader:
        ahead = reader.get("/v1/events", params={"after": 10**12})
        assert ahead.status_code == 400 and "ahead of the journal" in ahead.json()["detail"]
        negative = reader.get("/v1/events", params={"after": -1})
        assert negative.status_code == 422
        text = reader.get("/v1/events/stream", headers={"Last-Event-ID": "1; DROP"})
        assert text.status_code == 400 and "event number" in text.json()["detail"]
        future = reader.get("/v1/events/stream", headers={"Last-Event-ID": "99999"})
        assert future.status_code == 400


@pytest.mark.integration
def test_secrets_are_accepted_but_never_returned_logged_or_stored_in_clear(api: ApiServer):
    with api.client("operate") as operator:
        assert operator.post("/v1/blueprints", json={"path": "sealed.yaml",
                                                     "text": SECRET_BP}).status_code == 201
        wrong = operator.post("/v1/deployments", json={
            "blueprint": "sealed", "id": "bad", "params": {"password": [SECRET]}})
        assert wrong.status_code == 422 and SECRET not in wrong.text
        r = operator.post("/v1/deployments", json={"blueprint": "sealed", "id": "s1",
                                                   "params": {"password": SECRET}})
        assert r.status_code == 202, r.text
        done = api.cli("wait", "s1", "--timeout", "5m")
        assert done.returncode == 0, done.stdout + done.stderr
        shown = operator.get("/v1/deployments/s1").text
        events = operator.get("/v1/deployments/s1/events").text
    assert '"password":"******"' in shown and SECRET not in shown + events
    assert SECRET not in api.log_text()
    journal = (api.home / "journal.db").read_bytes()
    wal = api.home / "journal.db-wal"
    assert SECRET.encode() not in journal + (wal.read_bytes() if wal.exists() else b"")


def test_serve_speaks_https_with_the_certificate_given(tmp_path):
    from kits.api import start, stop
    from kits.common import test_ca

    test_ca(tmp_path)
    server = start(tmp_path, None, "--tls-cert", str(tmp_path / "server.pem"), "--tls-key",
                   str(tmp_path / "server.key"))
    try:
        assert server.url.startswith("https://")
        trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with httpx.Client(base_url=server.url, verify=trusted, headers={
                "Authorization": f"Bearer {server.tokens['read']}"}) as client:
            assert client.get("/v1/deployments").json() == []
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not answered there
            httpx.get(server.url.replace("https://", "http://") + "/healthz", timeout=10)
    finally:
        stop(server)
    half = subprocess.run([*MF, "--store", f"sqlite:///{tmp_path}/j.db", "serve",
                           "--tls-cert", str(tmp_path / "server.pem")],
                          capture_output=True, text=True, check=False)
    assert half.returncode == 2 and "go together" in half.stderr


@pytest.mark.parametrize("args, message", [
    (["serve", "--listen", "nowhere"], "give HOST:PORT"),
    (["serve", "--listen", "127.0.0.1:99999"], "give HOST:PORT"),
    (["token", "create", "bad name!", "--scope", "read"], "token name 'bad name!'"),
    (["token", "create", "ci", "--scope", "root"], "Invalid value for '--scope'"),
    (["token", "revoke", "nope"], "no API token 'nope'"),
])
def test_bad_serve_and_token_arguments_exit_2_saying_why(tmp_path, args, message):
    store = f"sqlite:///{tmp_path}/j.db"
    subprocess.run([*MF, "--store", store, "token", "create", "seed", "--scope", "read"],
                   capture_output=True, check=True)  # a journal, so that revoke reads it
    run = subprocess.run([*MF, "--store", store, *args],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
