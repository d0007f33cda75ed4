"""The terminal UI: ``agent-app-server tui``, a Textual application talking to an app server (an
embedded one of ours, or any server at a ``ws://`` / ``wss://`` / ``unix://`` URL, ours or the
reference's) through :class:`~agent_app_server.client.AsyncClient`.

Owns: the conversation on screen (``app``), its cells (``cells``), the composer (``composer``),
the approval dialog and pickers (``screens``) and the plain-words explanations of errors
(``explain``). Layer: tui, a client: imports only ``protocol``, ``transport``, ``rpc`` and
``client`` (never ``core``, ``server`` or ``store``); the command line
(``commands/tui_cmd.py``) builds the client, embedded or remote, and hands it to the app.
Importing this package does not import Textual; ``tui.app`` does.
"""
