"""The per-server core objects the method handlers share beyond threads and turns.

Owns: one instance of each per server (``AppServer.services``), created on first use so that a
server that never runs a command or lists skills never loads that machinery, and wired to the
server where it must be (killing a connection's commands when it closes, announcing skill
changes). Handlers reach them here instead of keeping state of their own.
Layer: server (holds ``core`` objects).
"""

from __future__ import annotations

import asyncio
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.command_exec import CommandProcesses
    from ..core.external_agent import ExternalAgentConfig
    from ..core.fuzzy import FuzzySearcher
    from ..core.fuzzy_sessions import FuzzySessions
    from ..core.mcp_oauth import McpOAuthLogins
    from ..core.models_catalog import ModelCatalog
    from ..core.queue import ThreadQueues
    from ..core.skills import SkillsCache
    from ..core.user_shell import UserShell
    from .app import AppServer
    from .connection import Connection

__all__ = ["ServerServices"]


class ServerServices:
    """What one :class:`~agent_app_server.server.app.AppServer` keeps for its handlers."""

    def __init__(self, app: AppServer) -> None:
        self._app = app

    @cached_property
    def commands(self) -> CommandProcesses:
        """``command/exec`` processes, per connection; a closing connection's processes die."""
        from ..core.command_exec import CommandProcesses

        commands = CommandProcesses(self._app.config)

        async def connection_closed(connection: Connection) -> None:
            await commands.owner_closed(connection.id)

        self._app.connection_close_hooks.append(connection_closed)
        return commands

    @cached_property
    def processes(self) -> CommandProcesses:
        """``process/spawn`` processes, per connection; a closing connection's processes die."""
        from ..core.command_exec import PROCESS, CommandProcesses

        processes = CommandProcesses(self._app.config, PROCESS)

        async def connection_closed(connection: Connection) -> None:
            await processes.owner_closed(connection.id)

        self._app.connection_close_hooks.append(connection_closed)
        return processes

    @cached_property
    def user_shell(self) -> UserShell:
        """``thread/shellCommand``."""
        from ..core.user_shell import UserShell

        return UserShell(self._app.turns)

    @cached_property
    def model_catalog(self) -> ModelCatalog:
        """``model/list``: the providers' model listings, cached on disk."""
        from ..core.models_catalog import ModelCatalog

        return ModelCatalog(self._app.config.state_dir)

    @cached_property
    def skills(self) -> SkillsCache:
        """Discovered skills; from the first use on, ``skills/changed`` goes to every client when
        skill files change."""
        from ..core.skills import SkillsCache

        app = self._app
        cache = SkillsCache(app.config.codex_home)
        cache.watch(lambda: app.emit(None, "skills/changed", {}))
        return cache

    @cached_property
    def plugin_changes(self) -> asyncio.Lock:
        """Held by each plugin install/uninstall and marketplace add/remove/upgrade: each rewrites
        config.toml and the plugin cache, and two at once would lose one's edit."""
        return asyncio.Lock()

    @cached_property
    def queues(self) -> ThreadQueues:
        """``thread/queue/*``: prompts queued per thread, started one turn after another."""
        from ..core.queue import ThreadQueues

        return ThreadQueues(self._app.threads, self._app.turns)

    @cached_property
    def fuzzy_searcher(self) -> FuzzySearcher:
        """The process's one fuzzy file searcher (its walk caches serve every client)."""
        from ..core.fuzzy import FuzzySearcher

        return FuzzySearcher()

    @cached_property
    def fuzzy_sessions(self) -> FuzzySessions:
        """``fuzzyFileSearch/session*``; a closing connection's sessions end with it."""
        from ..core.fuzzy_sessions import FuzzySessions

        sessions = FuzzySessions(self.fuzzy_searcher)

        async def connection_closed(connection: Connection) -> None:
            sessions.owner_closed(connection.id)

        self._app.connection_close_hooks.append(connection_closed)
        return sessions

    @cached_property
    def external_agent(self) -> ExternalAgentConfig:
        """``externalAgentConfig/*``: another agent's configuration found on disk, and the import history."""
        from pathlib import Path

        from ..core.external_agent import ExternalAgentConfig

        config = self._app.config
        return ExternalAgentConfig(config.codex_home, Path.home(), config.state_dir)

    @cached_property
    def mcp_oauth(self) -> McpOAuthLogins:
        """``mcpServer/oauth/login``: logins under way, and the token file they write."""
        from ..core.mcp_oauth import McpOAuthLogins

        config = self._app.config
        port = config.values.get("mcp_oauth_callback_port")
        return McpOAuthLogins(config.state_dir, port if isinstance(port, int) else 0)
