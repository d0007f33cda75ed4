"""Adding, removing and upgrading plugin marketplaces: ``marketplace/add|remove|upgrade``.

Owns: parsing a marketplace source as the reference does (a local directory, a git URL —
``http(s)://``, ``ssh://``, ``git@host:path`` — or GitHub ``owner/repo``, with ``#ref`` or
``@ref``), recording it as ``[marketplaces.NAME]`` in config.toml (``source_type``, ``source``,
``ref``, ``sparse_paths``), cloning git marketplaces with the ``git`` command into
``$CODEX_HOME/.tmp/marketplaces/NAME`` (staged in ``.staging`` and renamed into place, so a
failed clone leaves nothing behind), and upgrading them when the remote revision moved (the
revision installed is kept in ``.codex-marketplace-install.json`` in the checkout, as the
reference keeps it). A local directory is used where it is; removing it only forgets it.

Every function here blocks (disk, git): call them from a worker thread.
Layer: core.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_edit import Edit
from .plugins import (
    INSTALLED_MARKETPLACES_DIR,
    MARKETPLACE_MANIFESTS,
    RESERVED_MARKETPLACE,
    PluginError,
    PluginInternalError,
    configured_marketplace_root,
    configured_marketplaces,
    drop_table_if_empty,
    find_manifest,
    marketplace_name_of_root,
    read_user_config,
    swap_into_place,
    validate_segment,
    write_config_edits,
)

GIT_TIMEOUT_S = 120.0
INSTALL_METADATA_FILE = ".codex-marketplace-install.json"
_INVALID_SOURCE = "invalid marketplace source format; expected owner/repo, a git URL, or a local marketplace path"


@dataclass(frozen=True, slots=True)
class Source:
    kind: str  # "local" | "git"
    #: The canonical directory (local) or the normalized URL (git).
    location: str
    ref_name: str | None = None
    sparse_paths: tuple[str, ...] = ()

    def config_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {"source_type": self.kind, "source": self.location}
        if self.ref_name is not None:
            table["ref"] = self.ref_name
        if self.sparse_paths:
            table["sparse_paths"] = list(self.sparse_paths)
        return table

    def matches(self, table: dict[str, Any]) -> bool:
        sparse = table.get("sparse_paths")
        return (
            table.get("source_type") == self.kind
            and table.get("source") == self.location
            and table.get("ref") == self.ref_name
            and tuple(sparse if isinstance(sparse, list) else ()) == self.sparse_paths
        )


def run_git(args: list[str], *, timeout: float = GIT_TIMEOUT_S) -> str:
    """``git ARGS``; its stdout, or PluginInternalError with the command and both outputs."""
    argv = ["git", *args]
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env=environment,
        )
    except FileNotFoundError:
        raise PluginInternalError("git marketplaces need the `git` command; install git") from None
    except subprocess.TimeoutExpired:
        raise PluginInternalError(f"{' '.join(argv)} did not finish within {timeout:.0f}s") from None
    if done.returncode != 0:
        raise PluginInternalError(
            f"{' '.join(argv)} failed with status exit status: {done.returncode}\n"
            f"stdout:\n{done.stdout.strip()}\nstderr:\n{done.stderr.strip()}"
        )
    return done.stdout


def _split_ref(source: str) -> tuple[str, str | None]:
    def non_empty(ref: str) -> str | None:
        return ref.strip() or None

    if "#" in source:
        base, _, ref = source.rpartition("#")
        return base, non_empty(ref)
    if "://" not in source and not _is_ssh(source) and "@" in source:
        base, _, ref = source.rpartition("@")
        return base, non_empty(ref)
    return source, None


def _is_ssh(source: str) -> bool:
    return source.startswith("ssh://") or (source.startswith("git@") and ":" in source)


def _looks_local(source: str) -> bool:
    return source.startswith(("/", "./", "../", "~/")) or source in (".", "..")


def _github_shorthand(source: str) -> bool:
    parts = source.split("/")
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    return len(parts) == 2 and all(part and set(part) <= allowed for part in parts)


def parse_source(source: str, explicit_ref: str | None, sparse_paths: list[str], cwd: Path) -> Source:
    source = source.strip()
    if not source:
        raise PluginError("marketplace source must not be empty")
    base, parsed_ref = _split_ref(source)
    ref_name = explicit_ref if explicit_ref is not None else parsed_ref
    if _looks_local(base):
        if ref_name is not None:
            raise PluginError("--ref is only supported for git marketplace sources")
        path = Path(os.path.expanduser(base))
        try:
            resolved = (cwd / path).resolve(strict=True)
        except OSError as exc:
            raise PluginError(f"failed to resolve local marketplace source path: {exc.strerror}") from None
        if resolved.is_file():
            raise PluginError("local marketplace source must be a directory, not a file")
        if sparse_paths:
            raise PluginError("--sparse is only supported for git marketplace sources")
        return Source("local", str(resolved))
    if _is_ssh(base) or base.startswith(("http://", "https://")):
        url = base.rstrip("/")
        if url.startswith("https://github.com/") and not url.endswith(".git"):
            url += ".git"
        return Source("git", url, ref_name, tuple(sparse_paths))
    if _github_shorthand(base):
        return Source("git", f"https://github.com/{base}.git", ref_name, tuple(sparse_paths))
    raise PluginError(_INVALID_SOURCE)


def install_root(codex_home: Path) -> Path:
    return codex_home / INSTALLED_MARKETPLACES_DIR


def _root_name(root: Path) -> str:
    name = marketplace_name_of_root(root)
    if name == RESERVED_MARKETPLACE:
        raise PluginError(f"marketplace '{RESERVED_MARKETPLACE}' is reserved and cannot be added")
    return name


def _clone(source: Source, destination: Path) -> None:
    """Check ``source`` out into ``destination`` (which must not exist)."""
    args = ["clone", "--quiet"]
    if source.sparse_paths:
        args += ["--filter=blob:none", "--no-checkout"]
    run_git([*args, source.location, str(destination)])
    if source.sparse_paths:
        run_git(["-C", str(destination), "sparse-checkout", "set", *source.sparse_paths])
        if source.ref_name is None:
            run_git(["-C", str(destination), "checkout", "--quiet"])
    if source.ref_name is not None:
        run_git(["-C", str(destination), "checkout", "--quiet", source.ref_name])


def _staging(codex_home: Path, prefix: str) -> Path:
    parent = install_root(codex_home) / ".staging"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def _name_taken(name: str) -> PluginError:
    return PluginError(
        f"marketplace '{name}' is already added from a different source; remove it before adding this source"
    )


@dataclass(frozen=True, slots=True)
class AddOutcome:
    marketplace_name: str
    installed_root: Path
    already_added: bool


def add_marketplace(codex_home: Path, source: Source) -> AddOutcome:
    values = read_user_config(codex_home)
    configured = configured_marketplaces(values)
    for name, table in configured.items():
        root = configured_marketplace_root(codex_home, name, table)
        if source.matches(table) and root is not None and find_manifest(root, MARKETPLACE_MANIFESTS):
            return AddOutcome(_root_name(root), root, True)
    if source.kind == "local":
        root = Path(source.location)
        name = _root_name(root)
        if name in configured:
            raise _name_taken(name)
        write_config_edits(codex_home, [Edit(f"marketplaces.{name}", source.config_table(), "replace")])
        return AddOutcome(name, root, False)
    staging = _staging(codex_home, "marketplace-add-")
    try:
        checkout = staging / "checkout"
        _clone(source, checkout)
        name = _root_name(checkout)
        destination = install_root(codex_home) / name
        if destination.exists() or name in configured:
            raise _name_taken(name)
        os.rename(checkout, destination)
        try:
            write_config_edits(codex_home, [Edit(f"marketplaces.{name}", source.config_table(), "replace")])
        except PluginError:
            shutil.rmtree(destination, ignore_errors=True)
            raise
        return AddOutcome(name, destination, False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_marketplace(codex_home: Path, name: str) -> Path | None:
    """Forget a marketplace; its git checkout (returned) is deleted, a local directory is kept."""
    validate_segment(name, "marketplace name")
    configured = configured_marketplaces(read_user_config(codex_home))
    checkout = install_root(codex_home) / name
    if name not in configured and not checkout.is_dir():
        raise PluginError(f"marketplace `{name}` is not configured or installed")
    if name in configured:
        write_config_edits(codex_home, [Edit(f"marketplaces.{name}", None, "replace")])
        drop_table_if_empty(codex_home, "marketplaces")
    if not checkout.is_dir():
        return None
    try:
        shutil.rmtree(checkout)
    except OSError as exc:
        raise PluginInternalError(f"failed to remove marketplace checkout {checkout}: {exc}") from None
    return checkout


@dataclass
class UpgradeOutcome:
    selected: list[str] = field(default_factory=list)
    upgraded_roots: list[Path] = field(default_factory=list)
    #: Wire ``MarketplaceUpgradeErrorInfo`` dicts.
    errors: list[dict[str, str]] = field(default_factory=list)


def _git_sources(codex_home: Path) -> dict[str, Source]:
    sources = {}
    for name, table in sorted(configured_marketplaces(read_user_config(codex_home)).items()):
        if table.get("source_type") == "git" and isinstance(table.get("source"), str):
            sparse = table.get("sparse_paths")
            ref = table.get("ref")
            sparse_paths = tuple(str(p) for p in sparse) if isinstance(sparse, list) else ()
            sources[name] = Source("git", table["source"], ref if isinstance(ref, str) else None, sparse_paths)
    return sources


def _metadata(source: Source, revision: str) -> dict[str, Any]:
    return {
        "source_type": "git",
        "source": source.location,
        "ref_name": source.ref_name,
        "sparse_paths": list(source.sparse_paths),
        "revision": revision,
    }


def _remote_revision(source: Source) -> str:
    output = run_git(["ls-remote", source.location, source.ref_name or "HEAD"])
    line = output.strip().splitlines()[0] if output.strip() else ""
    if not line:
        # A ref ls-remote does not list may still be a commit id; the clone will tell.
        return source.ref_name or ""
    return line.split()[0]


def _upgrade_one(codex_home: Path, name: str, source: Source) -> Path | None:
    validate_segment(name, "marketplace name")
    revision = _remote_revision(source)
    destination = install_root(codex_home) / name
    try:
        recorded = json.loads((destination / INSTALL_METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None
    if find_manifest(destination, MARKETPLACE_MANIFESTS) and recorded == _metadata(source, revision):
        return None
    staging = _staging(codex_home, "marketplace-upgrade-")
    try:
        checkout = staging / "checkout"
        _clone(source, checkout)
        found = marketplace_name_of_root(checkout)
        if found != name:
            raise PluginError(f"upgraded marketplace name `{found}` does not match configured marketplace `{name}`")
        activated = run_git(["-C", str(checkout), "rev-parse", "HEAD"]).strip()
        (checkout / INSTALL_METADATA_FILE).write_text(json.dumps(_metadata(source, activated), indent=2) + "\n")
        swap_into_place(checkout, destination, staging / "previous")
        return destination
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def upgrade_marketplaces(codex_home: Path, name: str | None) -> UpgradeOutcome:
    sources = _git_sources(codex_home)
    if name is not None:
        if name not in sources:
            raise PluginError(f"marketplace `{name}` is not configured as a Git marketplace")
        sources = {name: sources[name]}
    outcome = UpgradeOutcome(selected=list(sources))
    for marketplace, source in sources.items():
        try:
            upgraded = _upgrade_one(codex_home, marketplace, source)
        except PluginError as exc:
            outcome.errors.append({"marketplaceName": marketplace, "message": exc.message})
        except OSError as exc:
            outcome.errors.append({"marketplaceName": marketplace, "message": f"failed to activate upgrade: {exc}"})
        else:
            if upgraded is not None:
                outcome.upgraded_roots.append(upgraded)
    return outcome
