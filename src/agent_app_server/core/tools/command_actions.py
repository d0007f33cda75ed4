"""What a shell command does, for display: ``commandActions`` of a ``commandExecution`` item.

Owns: splitting a shell script into its simple commands and classifying each as ``read`` (a
file is shown), ``listFiles``, ``search`` or ``unknown``, the way the reference summarises
commands for clients. Anything the classifier does not fully understand (redirections,
substitutions, subshells, unknown programs) makes the whole script one ``unknown`` action, so
a client never shows a harmless-looking summary of a command that does more.
Layer: core (stdlib only).
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Any

Action = dict[str, Any]

_OPERATORS = {"&&", "||", ";", "|"}
#: Tokens that make a script more than a list of simple commands.
_UNSAFE_TOKENS = {">", ">>", "<", "<<", "<<<", "&", "(", ")", ">&", "<&", "|&", ";;", "&>", ">|"}
#: Formatting commands that only trim or count what the command before the pipe printed.
_FORMATTERS = {"head", "tail", "wc", "sort", "uniq", "cut", "tr", "column", "less", "more", "cat", "nl"}
_SEARCHERS = {"rg", "grep", "egrep", "fgrep", "ag", "ack"}
_READERS = {"cat", "head", "tail", "nl", "less", "more", "bat", "batcat"}
_LISTERS = {"ls", "tree", "exa", "eza", "fd", "fdfind"}
#: Noise directory names skipped when shortening a path for display.
_NOISE_DIRS = {"build", "dist", "node_modules", "src", "target"}
_SAFE_UNQUOTED = re.compile(r"^[A-Za-z0-9_\-./=:@+%]+$")


def quote(word: str) -> str:
    if word and _SAFE_UNQUOTED.match(word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def join(words: list[str]) -> str:
    return " ".join(quote(word) for word in words)


def command_actions(script: str, cwd: str) -> list[Action]:
    """The actions of ``script`` (the text a shell runs) started in ``cwd``."""
    fallback: list[Action] = [{"type": "unknown", "command": script}]
    commands = _split(script)
    if commands is None or not commands:
        return fallback
    actions: list[Action] = []
    directory = cwd
    for words, after_pipe in commands:
        if not words:
            continue
        program = os.path.basename(words[0])
        if program == "cd":
            if len(words) == 2:
                directory = os.path.normpath(os.path.join(directory, words[1]))
            continue
        if program in ("true", ":"):
            continue
        if after_pipe and program in _FORMATTERS and not _has_file_operand(words):
            continue
        action = _classify(words, program, directory)
        if action is None:
            return fallback
        if action not in actions:
            actions.append(action)
    return actions or fallback


def _split(script: str) -> list[tuple[list[str], bool]] | None:
    """Simple commands with "came after a pipe"; None when the script is not a plain list."""
    if "$(" in script or "`" in script or "\n" in script.strip():
        return None
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return None
    commands: list[tuple[list[str], bool]] = []
    current: list[str] = []
    after_pipe = False
    for token in tokens:
        if token in _OPERATORS:
            if not current:
                return None
            commands.append((current, after_pipe))
            current = []
            after_pipe = token == "|"
        elif token in _UNSAFE_TOKENS or (token and set(token) <= set("<>&|;()")):
            return None
        else:
            current.append(token)
    if current:
        commands.append((current, after_pipe))
    elif commands:
        return None
    return commands


def _has_file_operand(words: list[str]) -> bool:
    return any(not word.startswith("-") and not word.isdigit() for word in words[1:])


def _operands(words: list[str], with_values: frozenset[str] = frozenset()) -> list[str]:
    """Non-option words; options in ``with_values`` consume the next word."""
    out: list[str] = []
    skip = False
    only_operands = False
    for word in words[1:]:
        if skip:
            skip = False
            continue
        if only_operands:
            out.append(word)
        elif word == "--":
            only_operands = True
        elif word.startswith("-") and word != "-":
            if word in with_values:
                skip = True
        else:
            out.append(word)
    return out


def short_path(path: str) -> str:
    """The last meaningful component of ``path`` (``/a/src/lib`` → ``lib``), as clients show it."""
    trimmed = path.rstrip("/") or path
    if trimmed in (".", ".."):
        return trimmed
    parts = [part for part in trimmed.split("/") if part and part != "."]
    meaningful = [part for part in parts if part not in _NOISE_DIRS]
    if meaningful:
        return meaningful[-1]
    return parts[-1] if parts else trimmed


def _read_action(words: list[str], path: str, directory: str) -> Action:
    return {
        "type": "read",
        "command": join(words),
        "name": os.path.basename(path),
        "path": os.path.normpath(os.path.join(directory, path)),
    }


def _classify(words: list[str], program: str, directory: str) -> Action | None:
    command = join(words)
    if program in _READERS:
        operands = _operands(words, frozenset({"-n", "-c", "--lines", "--bytes"}))
        if program in ("head", "tail"):
            operands = [word for word in operands if not re.fullmatch(r"[+-]?\d+", word)]
        if len(operands) == 1:
            return _read_action(words, operands[0], directory)
        return None
    if program == "sed":
        operands = _operands(words, frozenset({"-e"}))
        if "-n" in words and len(operands) == 2 and re.fullmatch(r"\d+(,\d+)?p", operands[0]):
            return _read_action(words, operands[1], directory)
        return None
    if program in _LISTERS:
        operands = _operands(words, frozenset({"-I", "-L", "--ignore", "-e", "-t", "-d"}))
        if program in ("fd", "fdfind"):
            operands = operands[1:] if operands else operands
        return {"type": "listFiles", "command": command, "path": short_path(operands[0]) if operands else None}
    if program == "find":
        operands = [word for word in words[1:] if not word.startswith("-")]
        name = None
        for flag in ("-name", "-iname", "-path"):
            if flag in words and words.index(flag) + 1 < len(words):
                name = words[words.index(flag) + 1]
        path = words[1] if len(words) > 1 and not words[1].startswith("-") else None
        if name is not None:
            return {"type": "search", "command": command, "query": name, "path": short_path(path) if path else None}
        if any(word in words for word in ("-exec", "-execdir", "-delete", "-ok", "-fprint")):
            return None
        return {"type": "listFiles", "command": command, "path": short_path(operands[0]) if operands else None}
    if program == "git" and len(words) > 1 and words[1] == "grep":
        operands = _operands(words[1:], frozenset({"-e", "-f"}))
        return _search(command, operands)
    if program in _SEARCHERS:
        with_values = frozenset({"-e", "-f", "-g", "--glob", "-t", "--type", "-m", "-A", "-B", "-C", "--include"})
        if program == "rg" and "--files" in words:
            operands = _operands(words, with_values)
            return {"type": "listFiles", "command": command, "path": short_path(operands[0]) if operands else None}
        operands = _operands(words, with_values)
        if "-e" in words and words.index("-e") + 1 < len(words):
            operands = [words[words.index("-e") + 1], *operands]
        return _search(command, operands)
    return None


def _search(command: str, operands: list[str]) -> Action:
    query = operands[0] if operands else None
    path = short_path(operands[1]) if len(operands) > 1 else None
    return {"type": "search", "command": command, "query": query, "path": path}
