"""Plugin marketplaces for tests: folders with the reference's manifests, and git repositories
served over HTTP on 127.0.0.1 (git's "dumb" protocol: plain files a static server hands out), so
git marketplaces are cloned for real without the network.

Shared by ``tests/server/test_plugins.py`` and the differential plugin cases.
"""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MANIFEST = Path(".agents") / "plugins" / "marketplace.json"
#: A plugin's ``.mcp.json`` servers: the real MCP echo server of the tests.
ECHO_MCP = {
    "echo": {
        "command": sys.executable,
        "args": [str(Path(__file__).resolve().parent / "mcp_echo_server.py")],
        # Generous: a loaded machine can take long to start a Python interpreter.
        "startup_timeout_sec": 120,
    }
}


def write_plugin(root: Path, name: str, *, version: str | None = "1.2.0", mcp: dict[str, Any] | None = None) -> Path:
    """A plugin folder: its manifest, one skill (``hello``) and, with ``mcp``, a ``.mcp.json``."""
    (root / ".codex-plugin").mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "name": name,
        "description": f"{name} plugin",
        "keywords": ["greeting"],
        "interface": {"displayName": name.upper(), "shortDescription": "short", "capabilities": ["Read"]},
    }
    if version is not None:
        manifest["version"] = version
    (root / ".codex-plugin" / "plugin.json").write_text(json.dumps(manifest))
    skill = root / "skills" / "hello" / "SKILL.md"
    skill.parent.mkdir(parents=True, exist_ok=True)
    skill.write_text(f"---\nname: hello\ndescription: says hello from {name}\n---\nSay hello.\n")
    if mcp is not None:
        (root / ".mcp.json").write_text(json.dumps({"mcpServers": mcp}))
    return root


#: A plugin's ``hooks/hooks.json``: two events, one with two handlers.
HOOKS = {
    "hooks": {
        "SessionStart": [
            {"hooks": [{"type": "command", "command": "echo a"}, {"type": "command", "command": "echo b"}]}
        ],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "echo pre"}]}],
    }
}


def write_hooks(plugin: Path) -> None:
    (plugin / "hooks").mkdir(parents=True, exist_ok=True)
    (plugin / "hooks" / "hooks.json").write_text(json.dumps(HOOKS))


def write_marketplace(
    root: Path, name: str, plugins: list[str], *, mcp: dict[str, dict[str, Any]] | None = None, **entry: Any
) -> Path:
    """A marketplace folder with ``plugins`` under ``plugins/``; returns its manifest file.
    ``mcp``: plugin name → its MCP servers; ``entry``: extra fields of every plugin entry."""
    (root / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    entries = [
        {"name": plugin, "source": {"source": "local", "path": f"./plugins/{plugin}"}, "category": "Tools", **entry}
        for plugin in plugins
    ]
    (root / MANIFEST).write_text(
        json.dumps({"name": name, "interface": {"displayName": name.title()}, "plugins": entries})
    )
    for plugin in plugins:
        write_plugin(root / "plugins" / plugin, plugin, mcp=(mcp or {}).get(plugin))
    return root / MANIFEST


def write_hostile_marketplaces(root: Path) -> None:
    """Marketplaces a careless or hostile author could write: ``entries`` (entries to leave out:
    a name that is no folder name, a source outside the marketplace, an unknown source kind),
    ``junk0``..``junk2`` (malformed as a whole: an entry that is no object, an unknown policy, an
    interface that is no object)."""
    manifest = write_marketplace(root / "entries", "entries", ["fine"])
    raw = json.loads(manifest.read_text())
    raw["plugins"] += [
        {"name": "../escape", "source": {"source": "local", "path": "./plugins/fine"}},
        {"name": "outside", "source": {"source": "local", "path": "../elsewhere"}},
        {"name": "weird", "source": {"source": "ftp", "url": 5}},
    ]
    manifest.write_text(json.dumps(raw))
    junk: list[dict[str, Any]] = [
        {"name": "junk0", "plugins": ["not an object"]},
        {"name": "junk1", "plugins": [{"name": "p", "source": "./p", "policy": {"installation": "NO"}}]},
        {"name": "junk2", "interface": "text", "plugins": []},
    ]
    for document in junk:
        path = root / document["name"] / MANIFEST
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document))


def write_git_sourced_marketplace(root: Path, name: str, plugin: str, url: str, subdir: str) -> Path:
    """A marketplace whose one plugin is fetched from a git repository (``git-subdir``) at install."""
    (root / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    entry = {"name": plugin, "source": {"source": "git-subdir", "url": url, "path": subdir}}
    (root / MANIFEST).write_text(json.dumps({"name": name, "plugins": [entry]}))
    return root / MANIFEST


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


class GitServer:
    """Bare repositories under ``root``, served read-only over HTTP on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def url(self, repository: str) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/{repository}.git"

    def publish(self, work_tree: Path, repository: str) -> str:
        """Commit everything in ``work_tree`` and push it to ``repository``; returns its URL."""
        bare = self.root / f"{repository}.git"
        if not (work_tree / ".git").exists():
            git("init", "-q", "-b", "main", cwd=work_tree)
        git("add", "-A", cwd=work_tree)
        git("commit", "-q", "--allow-empty", "-m", "publish", cwd=work_tree)
        if not bare.exists():
            git("init", "-q", "--bare", str(bare), cwd=self.root)
        git("push", "-q", str(bare), "HEAD:refs/heads/main", cwd=work_tree)
        git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)
        # The dumb protocol reads the ref list from a file the server does not generate.
        git("update-server-info", cwd=bare)
        return self.url(repository)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the tests need no access log
        pass


@contextmanager
def git_server(root: Path) -> Iterator[GitServer]:
    server = GitServer(root)
    server._thread.start()
    try:
        yield server
    finally:
        server._http.shutdown()
        server._http.server_close()
        server._thread.join()
