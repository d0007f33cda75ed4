"""The subcommands of ``agent-app-server`` (the table is ``cli.COMMANDS``); one module each,
imported only when its command runs: ``add_arguments(parser)`` and ``run(args) -> int``. ``serve``
and ``generate`` run the server side; ``exec_cmd`` and ``run_cmd`` drive a server as a client.

Layer: entry point (the command modules assemble every layer).
"""
