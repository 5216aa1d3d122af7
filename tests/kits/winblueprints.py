"""Checks of a Windows blueprint as a whole, beyond each script's own (kits/pslint.py,
kits/cmdlets.py): what a real Windows lab would fail on although every script parses.
Each finding names the state (or the file) and what to change.

- a declared parameter nothing reads (the domain a SQL node should join, unused);
- a reboot that is not conditional (``reboot: true`` on a Windows host);
- a state neither idempotent nor with a check probe (WinRM cannot re-attach: a resumed
  deployment could not tell whether it ran);
- a second hop without delegation: New-Cluster, Add-ClusterNode and SQL setup reach other
  hosts or DPAPI with the caller's credentials: the host must log in by CredSSP or by
  Kerberos with delegation (or be a guest agent running as the domain account);
- cluster nodes or replicas given as addresses where computer names are required;
- an undo that demotes a DC or leaves a domain without asking for its reboot, a demotion
  of an additional DC without -Credential;
- a static address added to a node's NIC (the cluster brings its addresses online);
- an availability group without HADR endpoints and their grants, without full recovery,
  a backup and seeding, without a listener, or without firewall rules.
"""

from __future__ import annotations

import re
from pathlib import Path

from murano_flow.blueprint import load_blueprint
from murano_flow.blueprint.expressions import ExpressionError, render
from murano_flow.blueprint.spec import Node
from murano_flow.engine import plans

_SECOND_HOP = re.compile(r"\b(New-Cluster|Add-ClusterNode)\b|setup\.exe", re.IGNORECASE)
_NAMES_ONLY = re.compile(r"\bNew-Cluster\b|REPLICA ON|New-SqlAvailabilityReplica", re.I)
_NEEDS_REBOOT = re.compile(r"Uninstall-ADDSDomainController|Remove-Computer", re.I)
_DEMOTES = re.compile(r"Uninstall-ADDSDomainController\b[^\n]*(?:`\n[^\n]*)*", re.I)
_NIC_ADDRESS = re.compile(r"\bNew-NetIPAddress\b", re.I)
_GROUP = re.compile(r"CREATE AVAILABILITY GROUP|New-SqlAvailabilityGroup\b", re.I)
_GROUP_NEEDS = {
    "a HADR endpoint (CREATE ENDPOINT ... FOR DATABASE_MIRRORING or New-SqlHADREndpoint)":
        r"FOR DATABASE_MIRRORING|New-SqlHADREndpoint",
    "GRANT CONNECT ON ENDPOINT for the service account": r"GRANT CONNECT ON ENDPOINT",
    "the full recovery model": r"SET RECOVERY FULL",
    "a full backup": r"BACKUP DATABASE",
    "seeding (SEEDING_MODE = AUTOMATIC, or a restore on the secondaries)":
        r"SEEDING_MODE = AUTOMATIC|RESTORE DATABASE",
    "a listener": r"ADD LISTENER|New-SqlAvailabilityGroupListener",
    "firewall rules for the instance and the endpoint": r"New-NetFirewallRule",
}


def unused_parameters(path: Path) -> list[str]:
    """Parameters a blueprint file declares and never reads."""
    import yaml

    text = path.read_text()
    declared = (yaml.safe_load(text) or {}).get("parameters") or {}
    return [f"{path.name}: parameter '{name}' is declared but nothing reads it"
            for name in declared
            if not re.search(rf"params\.{name}\b|params\[['\"]{name}['\"]\]", text)]


def _options(bp, node: Node) -> dict:
    ctx = plans.context(bp, node, "check", None)
    out = {}
    for key, value in dict(node.host.fields).get("options", {}).items():
        try:
            out[key] = render(value, ctx)
        except ExpressionError:
            out[key] = value
    return out


def _delegates(bp, node: Node) -> bool:
    options = _options(bp, node)
    auth = options.get("auth", "ntlm")
    return node.host.transport == "amqp" or auth == "credssp" or (
        auth == "kerberos" and options.get("kerberos_delegation") is True)


def problems(path: Path) -> list[str]:
    """What a Windows lab would fail on in the blueprint at ``path`` (and its parts)."""
    bp = load_blueprint(path)
    found: list[str] = []
    bodies = []
    for node in bp.nodes.values():
        if node.host.transport not in ("winrm", "amqp") or node.action is None:
            continue
        where = node.name
        body = node.action.body
        bodies += [body, node.undo.body if node.undo else ""]
        if node.reboot:
            found.append(f"{where}: reboot: true reboots whatever happened; use reboot: needed "
                         "and have the action say when (3010, reboot_required)")
        if not node.idempotent and node.check is None:
            found.append(f"{where}: neither idempotent nor with a check probe: a resumed "
                         "deployment cannot tell whether it ran")
        for spec in (node.action, node.undo):
            if spec is not None and _SECOND_HOP.search(spec.body) and not _delegates(bp, node):
                found.append(f"{where}: {spec.origin} needs the caller's credentials on a "
                             "second host (or DPAPI): log in by CredSSP or Kerberos with "
                             "delegation, or run it through the guest agent")
        if _NAMES_ONLY.search(body) and "address" in str(node.action.params):
            found.append(f"{where}: cluster nodes and replicas are computer names, not "
                         "addresses")
        if node.undo is not None and _NEEDS_REBOOT.search(node.undo.body) \
                and not node.reboot_if_asked:
            found.append(f"{where}: its undo demotes or leaves the domain, which takes a "
                         "reboot: use reboot: needed and have the undo ask for it")
        for spec in (node.action, node.undo):
            for call in _DEMOTES.findall(spec.body if spec else ""):
                if "-LastDomainControllerInDomain" not in call and "-Credential" not in call:
                    found.append(f"{where}: {spec.origin} demotes an additional DC without "
                                 "-Credential: the engine's logon cannot reach the domain")
            if spec is not None and _NIC_ADDRESS.search(spec.body):
                found.append(f"{where}: {spec.origin} adds an address to a NIC: cluster and "
                             "listener addresses are brought online by the cluster, not set "
                             "on a node")
    text = "\n".join(bodies)
    if _GROUP.search(text):
        found += [f"{path.name}: the availability group lacks {what}"
                  for what, pattern in _GROUP_NEEDS.items()
                  if not re.search(pattern, text, re.IGNORECASE)]
    files = [path, *(Path(path).parent / f for f in _part_files(path))]
    return found + [p for f in files for p in unused_parameters(f)]


def _part_files(path: Path) -> list[str]:
    import yaml

    parts = (yaml.safe_load(path.read_text()) or {}).get("parts") or {}
    return [p["blueprint"] for p in parts.values()]
