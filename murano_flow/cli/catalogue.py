"""Every command of ``murano-flow``: the module defining it and its one-line help, so that
the root ``--help`` and each command import only what they use (the commands' own modules
pull in the blueprint loader, the engine, the API...). tests/test_cli_startup.py keeps this
table equal to the commands themselves."""

from __future__ import annotations

#: Command name: (module of murano_flow.cli, the command object's name there, its short help).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "agent": ("agent", "agent",
        'Guest agents: run one, or make the config and user-data for one.'),
    "bundle": ("blueprints", "bundle",
        "Print BLUEPRINT with every file it reads as the JSON the API's upload takes "
        '(POST /v1/blueprints): murano-flow bundle farm.yaml | curl --data @- ...'),
    "cancel": ("ops", "cancel",
        'Give up on a deployment: no new actions start; running ones finish (or --now '
        'stop).'),
    "check": ("observe", "check",
        "Ask every reached state's check probe whether it still holds; report drift."),
    "db": ("service", "db",
        "The journal's schema."),
    "delete": ("history", "delete",
        'Delete a finished deployment: its journal (nodes, events, signals) and its '
        'action logs.'),
    "deploy": ("deploying", "deploy",
        "Deploy a blueprint: run every state's action once its requirements are reached."),
    "engine": ("service", "engine",
        'Engine services: drive the deployments submitted with `deploy --detach`.'),
    "events": ("journal", "events",
        'Print the event log of a deployment (JSON lines with -f json --follow).'),
    "examples": ("examples", "examples",
        'List the example blueprints that come with murano-flow.'),
    "fsck": ("ops", "fsck",
        "Check the journal's integrity (one deployment, or all); exit 1 on any problem."),
    "graph": ("blueprints", "graph",
        "Export the state graph (Graphviz DOT; png/svg need Graphviz's 'dot')."),
    "hosts": ("hosts", "hosts",
        'Hosts and the deployment each belongs to (one at a time).'),
    "init": ("examples", "init",
        'Copy the example blueprint NAME (default: webfarm) and the files it reads into '
        'DIRECTORY (default: here), to deploy or to start a blueprint of your own from.'),
    "list": ("journal", "list_",
        'List deployments, newest first.'),
    "notify": ("notify", "notify",
        'Publish every journaled event (of every engine) to a RabbitMQ topic exchange.'),
    "observe": ("observe", "observe_command",
        'Check a deployment again and again (with --fix, repair drift as it is found); '
        "each round is journaled, so 'events --follow' and notifications see it."),
    "pause": ("ops", "pause",
        'Pause a running deployment: no new actions start; running ones finish (or --now '
        'stop).'),
    "plan": ("blueprints", "plan",
        'Show the waves of states that can run in parallel, with their hosts.'),
    "prune": ("history", "prune",
        'Delete every deployment that finished longer ago than --older-than (its journal '
        'and action logs); running, paused or interrupted ones are kept whatever their '
        'age.'),
    "push": ("triggers", "push",
        'Store BLUEPRINT, with every file it reads, as the next version of its name in '
        "the journal (what the API's upload does); an unchanged blueprint keeps its "
        'version.'),
    "report": ("journal", "report",
        'Write one self-contained HTML file about a deployment: its graph coloured by '
        'state, the timeline of every action per host, the failures with their log tails,'
        ' the events (secrets masked; opens offline, to attach to a ticket).'),
    "resume": ("deploying", "resume",
        'Continue a deployment that was interrupted, paused, cancelled or failed, or '
        'whose engine died: reached states stay reached, actions still running and states'
        ' in doubt are asked for again by their plan ids (never run twice), except those '
        'named by --rerun.'),
    "rollback": ("deploying", "rollback",
        "Undo a deployment: run 'undo' actions in reverse dependency order."),
    "schedule": ("schedule", "schedule",
        'Deploy BLUEPRINT at cron times or when a matching message arrives; Ctrl-C stops.'),
    "serve": ("api", "serve",
        'Serve the HTTP API and the web dashboard until SIGTERM.'),
    "signal": ("signal", "signal",
        "Send a signal to state NODE of DEPLOYMENT, which waits for one ('wait: {signal: "
        "true}')."),
    "status": ("journal", "status",
        'Show a deployment: per entity (or per state with --nodes); -f value|csv and -c '
        'print its states.'),
    "token": ("api", "token",
        'API tokens: create (shown once), list, revoke.'),
    "trigger": ("triggers", "trigger",
        'Triggers the engine services fire: cron times or broker messages.'),
    "validate": ("blueprints", "validate",
        'Check a blueprint; report every problem as file:line:column (exit 2 if any).'),
    "wait": ("journal", "wait",
        'Wait until a deployment ends; exit with its verdict: 0 succeeded (or rolled back'
        ' as asked), 1 failed, cancelled or rolled back after a failure, 130 interrupted '
        'or its engine gone, 124 still going at --timeout.'),
}
