"""Subcommands that drive a server as a client (``exec``, ``run``), one module each.

Each module offers ``add_parser(subparsers)`` and ``run(args) -> int`` and imports its heavy
dependencies only when it runs. Layer: above ``client`` and ``embedded``.
"""
