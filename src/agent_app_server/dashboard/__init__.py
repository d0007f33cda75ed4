"""``agent-app-server dashboard``: a web page that watches several app servers at once.

One :class:`~agent_app_server.dashboard.watch.ServerWatch` per ``--server`` connects as an observer
(``capabilities.observeAll`` with ``eventReplay``; reconnects and catches up) and feeds the
:class:`~agent_app_server.dashboard.fleet.Fleet`, the one model of everything seen: servers,
threads, live transcripts, pending approvals, chart series. :mod:`~agent_app_server.dashboard.web`
serves the page (aiohttp; JavaScript, CSS and the SVG charts from ``static/``), pushes the fleet's
changes to each browser over Server-Sent Events, and takes approval decisions as POSTs (origin
check and CSRF token; a login when the listener is not loopback).
:mod:`~agent_app_server.dashboard.audit` keeps every approval decision seen in SQLite.

Layer: dashboard (a client: imports only ``protocol``, ``transport``, ``rpc`` and ``client``).
docs/dashboard.md says how to run it and its security model.
"""
