"""The subcommands of ``agent-app-server`` (the table is ``cli.COMMANDS``); one module each,
imported only when its command runs.

Layer: entry point (the command modules assemble every layer).
"""
