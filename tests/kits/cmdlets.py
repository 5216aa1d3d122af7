"""The cmdlets and SQL Server setup switches our Windows scripts use, with the parameters
Microsoft documents for them, and a check of every call on the parse tree: each parameter
is documented for its cmdlet, a switch gets no value (but ``-Switch:$x``), any other
parameter gets one, and a literal value is of the documented kind (one of an enum's
values, a number for an integer). Values that are expressions are known only on the host;
a SecureString or PSCredential parameter must get a variable, never a literal.

Each entry names its page on learn.microsoft.com (module/cmdlet). Only the parameters we
call, or might, are listed: a new one is added here with its page checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kits import pslint

# kinds of parameter values
SWITCH, TEXT, TEXTS, INT, BOOL, SECURE, CREDENTIAL, ANY = (
    "switch", "string", "string[]", "int", "bool", "SecureString", "PSCredential", "object")
_COMMON = {"ErrorAction": ("Stop", "Continue", "SilentlyContinue", "Ignore", "Inquire"),
           "Confirm": SWITCH, "WhatIf": SWITCH, "Verbose": SWITCH}


@dataclass(frozen=True)
class Cmdlet:
    page: str  # learn.microsoft.com/powershell/module/<page>
    params: dict[str, str | tuple[str, ...]]
    #: Arguments it takes by position (ours: Import-Module's name, ForEach-Object's member).
    positional: int = 0
    #: Simplified Where-Object syntax: any -Operator with a property before it.
    operators: bool = False


def _c(page: str, positional: int = 0, **params: str | tuple[str, ...]) -> Cmdlet:
    return Cmdlet(page, {**_COMMON, **params}, positional)


CMDLETS: dict[str, Cmdlet] = {
    # servermanager
    "install-windowsfeature": _c("servermanager/install-windowsfeature", Name=TEXTS,
                                 IncludeManagementTools=SWITCH, IncludeAllSubFeature=SWITCH,
                                 Restart=SWITCH, Source=TEXTS),
    "uninstall-windowsfeature": _c("servermanager/uninstall-windowsfeature", Name=TEXTS,
                                   IncludeManagementTools=SWITCH, Remove=SWITCH,
                                   Restart=SWITCH),
    "get-windowsfeature": _c("servermanager/get-windowsfeature", Name=TEXTS),
    # microsoft.powershell.management
    "rename-computer": _c("microsoft.powershell.management/rename-computer", NewName=TEXT,
                          DomainCredential=CREDENTIAL, Force=SWITCH, Restart=SWITCH),
    "add-computer": _c("microsoft.powershell.management/add-computer", DomainName=TEXT,
                       Credential=CREDENTIAL, OUPath=TEXT, NewName=TEXT, Force=SWITCH,
                       Restart=SWITCH, Options=TEXTS),
    "remove-computer": _c("microsoft.powershell.management/remove-computer",
                          UnjoinDomainCredential=CREDENTIAL, WorkgroupName=TEXT,
                          Force=SWITCH, Restart=SWITCH),
    "get-content": _c("microsoft.powershell.management/get-content", LiteralPath=TEXTS,
                      Raw=SWITCH, Encoding=("UTF8", "utf8", "utf8BOM", "utf8NoBOM", "Unicode")),
    "get-itemproperty": _c("microsoft.powershell.management/get-itemproperty",
                           LiteralPath=TEXTS, Name=TEXTS),
    "new-item": _c("microsoft.powershell.management/new-item", Path=TEXTS,
                   ItemType=("Directory", "File"), Force=SWITCH),
    "remove-item": _c("microsoft.powershell.management/remove-item", LiteralPath=TEXTS,
                      Recurse=SWITCH, Force=SWITCH),
    "join-path": _c("microsoft.powershell.management/join-path", 2, Path=TEXTS,
                    ChildPath=TEXT),
    "set-location": _c("microsoft.powershell.management/set-location", LiteralPath=TEXT),
    "start-process": _c("microsoft.powershell.management/start-process", FilePath=TEXT,
                        ArgumentList=TEXTS, Wait=SWITCH, PassThru=SWITCH, NoNewWindow=SWITCH),
    "get-service": _c("microsoft.powershell.management/get-service", Name=TEXTS),
    # microsoft.powershell.security
    "convertto-securestring": _c("microsoft.powershell.security/convertto-securestring",
                                 String=TEXT, AsPlainText=SWITCH, Force=SWITCH),
    "set-acl": _c("microsoft.powershell.security/set-acl", LiteralPath=TEXTS, AclObject=ANY),
    # microsoft.powershell.utility / core
    "convertfrom-json": _c("microsoft.powershell.utility/convertfrom-json", InputObject=TEXT,
                           AsHashtable=SWITCH),
    "convertto-json": _c("microsoft.powershell.utility/convertto-json", 1, InputObject=ANY,
                         Depth=INT, Compress=SWITCH),
    "add-type": _c("microsoft.powershell.utility/add-type", AssemblyName=TEXTS),
    "new-object": _c("microsoft.powershell.utility/new-object", 2, TypeName=TEXT,
                     ArgumentList=ANY),
    "select-object": _c("microsoft.powershell.utility/select-object", First=INT,
                        ExpandProperty=TEXT),
    "sort-object": _c("microsoft.powershell.utility/sort-object", 1, Unique=SWITCH,
                      Property=TEXTS),
    "get-date": _c("microsoft.powershell.utility/get-date"),
    "start-sleep": _c("microsoft.powershell.utility/start-sleep", Seconds=INT),
    "write-output": _c("microsoft.powershell.utility/write-output", 1, InputObject=ANY),
    "out-null": _c("microsoft.powershell.core/out-null"),
    "foreach-object": _c("microsoft.powershell.core/foreach-object", 1, MemberName=TEXT,
                         Process=ANY),
    "where-object": Cmdlet("microsoft.powershell.core/where-object", dict(_COMMON), 2,
                           operators=True),
    "get-module": _c("microsoft.powershell.core/get-module", ListAvailable=SWITCH, Name=TEXTS),
    "import-module": _c("microsoft.powershell.core/import-module", 1, Name=TEXTS,
                        DisableNameChecking=SWITCH),
    # cimcmdlets
    "get-ciminstance": _c("cimcmdlets/get-ciminstance", ClassName=TEXT, Filter=TEXT),
    # dnsclient, nettcpip, netadapter, netsecurity
    "get-dnsclientserveraddress": _c("dnsclient/get-dnsclientserveraddress",
                                     InterfaceIndex=INT, AddressFamily=("IPv4", "IPv6")),
    "set-dnsclientserveraddress": _c("dnsclient/set-dnsclientserveraddress",
                                     InterfaceIndex=INT, ServerAddresses=TEXTS,
                                     ResetServerAddresses=SWITCH),
    "clear-dnsclientcache": _c("dnsclient/clear-dnsclientcache"),
    "get-netadapter": _c("netadapter/get-netadapter", Name=TEXTS, Physical=SWITCH),
    "get-netipaddress": _c("nettcpip/get-netipaddress", AddressFamily=("IPv4", "IPv6"),
                           PrefixOrigin=("Other", "Manual", "WellKnown", "Dhcp",
                                         "RouterAdvertisement"), InterfaceIndex=INT),
    "new-netfirewallrule": _c("netsecurity/new-netfirewallrule", Name=TEXT, DisplayName=TEXT,
                              Direction=("Inbound", "Outbound"), Protocol=TEXT,
                              LocalPort=TEXTS, Action=("NotConfigured", "Allow", "Block"),
                              Profile=("Any", "Domain", "Private", "Public")),
    "get-netfirewallrule": _c("netsecurity/get-netfirewallrule", Name=TEXTS),
    "remove-netfirewallrule": _c("netsecurity/remove-netfirewallrule", Name=TEXTS),
    # microsoft.powershell.localaccounts
    "set-localuser": _c("microsoft.powershell.localaccounts/set-localuser", Name=TEXT,
                        Password=SECURE, PasswordNeverExpires=BOOL),
    # addsdeployment
    "install-addsforest": _c("addsdeployment/install-addsforest", DomainName=TEXT,
                             DomainNetbiosName=TEXT, SafeModeAdministratorPassword=SECURE,
                             InstallDns=SWITCH, NoRebootOnCompletion=SWITCH, Force=SWITCH,
                             ForestMode=TEXT, DomainMode=TEXT),
    "install-addsdomaincontroller": _c("addsdeployment/install-addsdomaincontroller",
                                       DomainName=TEXT, Credential=CREDENTIAL,
                                       SafeModeAdministratorPassword=SECURE,
                                       InstallDns=SWITCH, NoRebootOnCompletion=SWITCH,
                                       Force=SWITCH, SiteName=TEXT),
    "uninstall-addsdomaincontroller": _c("addsdeployment/uninstall-addsdomaincontroller",
                                         Credential=CREDENTIAL,
                                         LocalAdministratorPassword=SECURE,
                                         LastDomainControllerInDomain=SWITCH,
                                         RemoveApplicationPartitions=SWITCH,
                                         NoRebootOnCompletion=SWITCH, Force=SWITCH),
    # activedirectory
    "get-addomain": _c("activedirectory/get-addomain", Identity=TEXT),
    "get-aduser": _c("activedirectory/get-aduser", Filter=TEXT, Identity=TEXT),
    "new-aduser": _c("activedirectory/new-aduser", Name=TEXT, SamAccountName=TEXT,
                     AccountPassword=SECURE, Enabled=BOOL, PasswordNeverExpires=BOOL,
                     CannotChangePassword=BOOL, Description=TEXT, Path=TEXT),
    "remove-aduser": _c("activedirectory/remove-aduser", Identity=ANY),
    # failoverclusters
    "new-cluster": _c("failoverclusters/new-cluster", Name=TEXT, Node=TEXTS,
                      StaticAddress=TEXTS, NoStorage=SWITCH,
                      AdministrativeAccessPoint=("ActiveDirectoryAndDns", "Dns", "None")),
    "get-cluster": _c("failoverclusters/get-cluster", Name=TEXT),
    "get-clusternode": _c("failoverclusters/get-clusternode", Cluster=TEXT, Name=TEXTS),
    "add-clusternode": _c("failoverclusters/add-clusternode", Cluster=TEXT, Name=TEXTS,
                          NoStorage=SWITCH),
    "remove-cluster": _c("failoverclusters/remove-cluster", Cluster=TEXT, Force=SWITCH,
                         CleanupAD=SWITCH),
    "set-clusterquorum": _c("failoverclusters/set-clusterquorum", Cluster=TEXT,
                            FileShareWitness=TEXT, NodeMajority=SWITCH),
    # sqlserver (SQLPS has the same cmdlets with these parameters)
    "enable-sqlalwayson": _c("sqlserver/enable-sqlalwayson", ServerInstance=TEXT,
                             Force=SWITCH, NoServiceRestart=SWITCH),
    "disable-sqlalwayson": _c("sqlserver/disable-sqlalwayson", ServerInstance=TEXT,
                              Force=SWITCH, NoServiceRestart=SWITCH),
    "invoke-sqlcmd": _c("sqlserver/invoke-sqlcmd", ServerInstance=TEXT, Query=TEXT,
                        QueryTimeout=INT, Database=TEXT),
}

#: Native programs we call, each with how its exit code is read.
NATIVE = {"ipconfig": "learn.microsoft.com/windows-server/administration/windows-commands/ipconfig"}

#: SQL Server setup's parameters (learn.microsoft.com/sql/database-engine/install-windows/
#: install-sql-server-from-the-command-prompt), on its command line (/NAME=value) or in
#: its ConfigurationFile.ini (NAME="value"); those holding a secret are only for the file.
SETUP: dict[str, tuple[str, ...] | str] = {
    "Q": SWITCH, "QUIET": ("True", "False"), "ACTION": ("Install", "Uninstall"),
    "FEATURES": ("SQLENGINE", "SQL", "FULLTEXT", "REPLICATION"),
    "INSTANCENAME": TEXT, "IACCEPTSQLSERVERLICENSETERMS": ("True",),
    "UPDATEENABLED": ("True", "False"), "TCPENABLED": ("0", "1"),
    "SQLSVCSTARTUPTYPE": ("Automatic", "Manual", "Disabled"), "SQLSVCACCOUNT": TEXT,
    "SQLSVCPASSWORD": SECURE, "SQLSYSADMINACCOUNTS": TEXTS, "PID": SECURE,
    "CONFIGURATIONFILE": TEXT,
}
_PRODUCT_KEY = re.compile(r"^[A-Z0-9]{5}(-[A-Z0-9]{5}){4}$")


@dataclass
class _Call:
    name: str
    line: int
    named: list[tuple[str, str | None, str]] = field(default_factory=list)  # param, value, kind
    positional: int = 0


def _calls(source: str) -> list[_Call]:
    calls = []
    for command in pslint.nodes(pslint.tree(source).root_node, "command"):
        name = pslint._name(command)
        if not name or name.startswith("$"):
            continue
        call = _Call(name, pslint._line(command))
        elements = [c for c in command.children if c.type == "command_elements"]
        children = [c for e in elements for c in e.children]
        # -Switch:$value: the grammar makes ':' a separator before the value
        bound = {id(b) for a, b in zip(children, children[1:], strict=False)
                 if a.type == "command_argument_sep" and pslint._text(a) == ":"}
        parts = [c for c in children if c.type != "command_argument_sep"]
        i = 0
        while i < len(parts):
            part = parts[i]
            if part.type == "command_parameter":
                text = pslint._text(part)
                param, colon, _ = text[1:].partition(":")
                if colon:  # -Switch:$value
                    call.named.append((param, "", "colon"))
                elif i + 1 < len(parts) and id(parts[i + 1]) in bound:
                    call.named.append((param, "", "colon"))
                    i += 1
                elif i + 1 < len(parts) and parts[i + 1].type != "command_parameter":
                    value = parts[i + 1]
                    call.named.append((param, pslint._text(value), _literal_kind(value)))
                    i += 1
                else:
                    call.named.append((param, None, ""))
            else:
                call.positional += 1
            i += 1
        calls.append(call)
    return calls


def _literal_kind(value) -> str:
    """'string' or 'number' for a literal value (list of them: the first's), else ''."""
    texts = [n for n in pslint.nodes(value, "verbatim_string_characters")]
    kinds = {n.type for n in pslint.nodes(value, "string_literal") + pslint.nodes(
        value, "integer_literal") + pslint.nodes(value, "variable") + pslint.nodes(
        value, "sub_expression") + pslint.nodes(value, "member_access")}
    if kinds & {"variable", "sub_expression", "member_access"}:
        return ""
    if "integer_literal" in kinds:
        return "number"
    return "string" if kinds or texts or pslint._text(value).isidentifier() else ""


def _unquoted(text: str) -> list[str]:
    return [t.strip().strip("'\"") for t in text.split(",")]


def check(source: str) -> list[str]:
    """Where ``source`` calls a cmdlet or passes a setup parameter against the table."""
    problems = []
    for call in _calls(source):
        if call.name in NATIVE or pslint._native(call.name):
            if call.name not in NATIVE and not call.name.endswith("setup.exe"):
                problems.append(f"line {call.line}: native program {call.name} is not in the "
                                "table")
            continue
        spec = CMDLETS.get(call.name)
        if spec is None:
            problems.append(f"line {call.line}: {call.name} is not in the table of cmdlets "
                            "(add it with its documented parameters)")
            continue
        if call.positional > spec.positional:
            problems.append(f"line {call.line}: {call.name} given {call.positional} positional "
                            f"arguments (it takes {spec.positional} here): name them")
        for param, value, kind in call.named:
            problems += _param(call, spec, param, value, kind)
    return problems + _setup(source) + _modules(source)


def _modules(source: str) -> list[str]:
    """The SqlServer module comes from the PowerShell Gallery, which nothing installs on the
    nodes; SQL Server setup ships SQLPS: import SqlServer only where SQLPS stands in."""
    if re.search(r"Import-Module\s+(-Name\s+)?'?SqlServer\b", source) and "SQLPS" not in source:
        return ["imports SqlServer (from the PowerShell Gallery) with no SQLPS to fall back on"]
    return []


def _param(call: _Call, spec: Cmdlet, param: str, value: str | None, kind: str) -> list[str]:
    where = f"line {call.line}: {call.name} -{param}"
    documented = {k.lower(): v for k, v in spec.params.items()}
    if param.lower() not in documented:
        if spec.operators and param.lower() in ("eq", "ne", "like", "notlike", "match"):
            return []
        return [f"{where} is not a documented parameter "
                f"(learn.microsoft.com/powershell/module/{spec.page})"]
    want = documented[param.lower()]
    if want == SWITCH:
        return [f"{where} is a switch: it takes no value (write -{param}:$x)"] \
            if value not in (None, "") else []
    if value is None:
        return [f"{where} needs a value ({want})"]
    if kind == "colon" and param.lower() != "erroraction":
        return [f"{where}:… is for switches; give the value after a space"]
    if want in (SECURE, CREDENTIAL) and kind:
        return [f"{where} takes a {want}: a literal cannot be one"]
    if want == INT and kind == "string":
        return [f"{where} takes a number, not {value}"]
    if want == BOOL and not value.startswith("$"):
        return [f"{where} takes $true or $false, not {value}"]
    if isinstance(want, tuple) and kind == "string":
        bad = [v for v in _unquoted(value) if v not in want]
        if bad:
            return [f"{where}: {', '.join(bad)} is not one of {', '.join(want)}"]
    return []


def _setup(source: str) -> list[str]:
    """SQL Server setup parameters in string literals ('/NAME=value', 'NAME="value"')."""
    if "setup.exe" not in source:
        return []
    problems = [] if "3010" in source else [
        "runs SQL Server setup but does not read exit code 3010 (success, reboot needed)"]
    pattern = re.compile(r"""^["']/?([A-Za-z]+)(?:=(.*))?["']$""")
    for literal in pslint.nodes(pslint.tree(source).root_node, "string_literal"):
        text = pslint._text(literal)
        m = pattern.match(text)
        if not m or not (text[1] == "/" or "=" in text) or text[1:2] == "[":
            continue
        name, value = m.group(1).upper(), m.group(2)
        if name not in SETUP:
            problems.append(f"line {pslint._line(literal)}: setup parameter {name} is not "
                            "documented")
            continue
        want = SETUP[name]
        if name == "PID" and value and "$" not in value and not _PRODUCT_KEY.match(
                value.strip('"`')):
            problems.append(f"line {pslint._line(literal)}: PID is a product key, not {value}")
        elif name == "PID" and value and "$" in value and "key" not in value.lower():
            problems.append(f"line {pslint._line(literal)}: PID is a product key: {value} "
                            "does not read one")
        if want == SECURE and text[1] == "/":
            problems.append(f"line {pslint._line(literal)}: {name} holds a secret: put it in "
                            "the configuration file, never on setup's command line")
        elif isinstance(want, tuple) and value is not None and "$" not in value and \
                value.strip('"`').lower() not in {w.lower() for w in want}:  # case-blind
            problems.append(f"line {pslint._line(literal)}: setup {name}={value}: not one of "
                            f"{', '.join(want)}")
    return problems
