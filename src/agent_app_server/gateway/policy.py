"""The gateway's policy file (TOML): rules tried in order, the first that matches decides.

Owns: reading and checking a policy (every mistake a :class:`PolicyError` naming the file and
line, and what to write instead), the matchers (command as an exact argv prefix, a glob or a
regex; cwd; file paths; inside or outside the workspace; the thread's client, source and model;
the server's name; network access; the request kind), the escalation settings, deciding a
request (:meth:`Policy.decide`) and explaining each rule (``--check``).
Layer: gateway (the standard library and tomlkit).

A policy::

    default = "ask"                      # when no rule matches

    [escalation]                          # needed when a rule escalates
    webhook = "https://cm.example/hooks/agent"
    timeout = 900                         # seconds; then on_timeout decides
    on_timeout = "decline"                # accept | acceptForSession | decline | ask
    on_error = "decline"                  # webhook unreachable: decline | ask (never accept)
    secret_env = "GATEWAY_SECRET"         # HMAC key for callbacks, read from this variable

    [[rule]]
    name = "read-only git"
    command = ["git", "status"]           # argv prefix of a simple command
    action = "accept"
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .requests import ANSWERS, KINDS, ApprovalRequest

ACTIONS = ("accept", "acceptForSession", "decline", "escalate", "ask")
#: What a timed-out escalation may turn into (``escalate`` again would never end).
TIMEOUT_ACTIONS = ("accept", "acceptForSession", "decline", "ask")
#: What an escalation that failed (webhook unreachable, refused) turns into: never an accept.
ERROR_ACTIONS = ("decline", "ask")
DEFAULT_TIMEOUT_S = 3600.0
DEFAULT_POLL_INTERVAL_S = 5.0
DEFAULT_SECRET_ENV = "AGENT_GATEWAY_SECRET"

_TOP_KEYS = frozenset({"default", "escalation", "rule"})
_ESCALATION_KEYS = frozenset(
    {"webhook", "timeout", "on_timeout", "on_error", "secret_env", "callback_url", "status_url", "poll_interval"}
)
_RULE_ESCALATION_KEYS = frozenset({"timeout", "on_timeout", "approve_as"})


class PolicyError(Exception):
    """A policy that cannot be used: ``FILE:LINE: what is wrong and what to write instead``."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition of a rule: its key in the file, how it reads, and the test."""

    key: str
    description: str
    test: Callable[[ApprovalRequest], bool]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    line: int
    action: str
    matchers: tuple[Matcher, ...]
    #: Per-rule escalation overrides.
    timeout_s: float | None = None
    on_timeout: str | None = None
    #: What an approved escalation answers (``accept`` or ``acceptForSession``).
    approve_as: str = "accept"

    def matches(self, request: ApprovalRequest) -> bool:
        return all(matcher.test(request) for matcher in self.matchers)

    def explain(self) -> str:
        conditions = " and ".join(m.description for m in self.matchers) or "every request"
        then = self.action
        if self.action == "escalate":
            then += f" (approved → {self.approve_as})"
        return f"rule {self.name!r} (line {self.line}): {conditions} → {then}"


@dataclass(frozen=True, slots=True)
class Escalation:
    """The ``[escalation]`` table: where tickets go and how their decision comes back."""

    webhook: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    on_timeout: str = "decline"
    on_error: str = "decline"
    secret_env: str = DEFAULT_SECRET_ENV
    #: The gateway's callback base URL as the service reaches it (default: the listen address).
    callback_url: str | None = None
    #: Polled for the decision when set (``{ticket}`` is the service's ticket id, ``{id}`` ours);
    #: a webhook reply's ``statusUrl`` is polled too.
    status_url: str | None = None
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy says about one request: the rule (or ``default``) and its action."""

    action: str
    rule: str
    rule_obj: Rule | None = None

    @property
    def timeout_s(self) -> float | None:
        return self.rule_obj.timeout_s if self.rule_obj else None


@dataclass(frozen=True, slots=True)
class Policy:
    source: str
    rules: tuple[Rule, ...]
    default: str = "ask"
    escalation: Escalation | None = None
    text: str = field(default="", repr=False)

    def decide(self, request: ApprovalRequest) -> Decision:
        for rule in self.rules:
            if rule.matches(request):
                return Decision(rule.action, rule.name, rule)
        return Decision(self.default, "default")

    def explain(self) -> list[str]:
        lines = [f"{self.source}: {len(self.rules)} rule(s), tried in order; the first that matches decides"]
        lines += [f"  {index}. {rule.explain()}" for index, rule in enumerate(self.rules, 1)]
        lines.append(f"  otherwise: {self.default}")
        if self.escalation is not None:
            esc = self.escalation
            lines.append(
                f"  escalation: POST {esc.webhook}; decided by HMAC-signed callback (key in ${esc.secret_env})"
                + (f" or by polling {esc.status_url}" if esc.status_url else "")
                + f"; after {esc.timeout_s:g} s → {esc.on_timeout}; webhook unreachable → {esc.on_error}"
            )
        return lines


def load_policy(path: str | Path) -> Policy:
    """Read and check a policy file (blocking: call it off the event loop)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(source, None, f"cannot read the policy: {exc}") from None
    return parse_policy(text, source)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        data: dict[str, Any] = tomlkit.parse(text).unwrap()
    except ParseError as exc:
        raise PolicyError(source, exc.line, f"not valid TOML: {_toml_message(exc)}") from None
    lines = _Lines(text)
    for key in data:
        if key not in _TOP_KEYS:
            raise PolicyError(
                source, lines.key(key), f"unknown key {key!r} (expected default, [escalation] or [[rule]])"
            )
    default = data.get("default", "ask")
    if default not in ACTIONS:
        raise PolicyError(source, lines.key("default"), f"default = {default!r}: expected one of {', '.join(ACTIONS)}")
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise PolicyError(source, lines.key("rule"), "rules are [[rule]] tables (an array of tables)")
    rules = tuple(_rule(raw, index, lines, source) for index, raw in enumerate(raw_rules))
    escalation = _escalation(data.get("escalation"), lines, source)
    if escalation is None:
        escalating = [rule for rule in rules if rule.action == "escalate"]
        if escalating or default == "escalate":
            line = escalating[0].line if escalating else lines.key("default")
            raise PolicyError(source, line, "this escalates, but the policy has no [escalation] table with a webhook")
    names = [rule.name for rule in rules]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise PolicyError(source, rules[index].line, f"a second rule named {name!r}: rule names must be unique")
    return Policy(source, rules, default, escalation, text)


def _rule(raw: Any, index: int, lines: _Lines, source: str) -> Rule:
    start = lines.rule(index)
    if not isinstance(raw, dict):
        raise PolicyError(source, start, "a rule is a table of matchers and an action")

    def fail(key: str | None, message: str) -> PolicyError:
        return PolicyError(source, lines.key(key, start) if key else start, f"rule {index + 1}: {message}")

    name = raw.get("name", f"rule {index + 1}")
    if not isinstance(name, str) or not name:
        raise fail("name", "name must be a non-empty string")
    action = raw.get("action")
    if action is None:
        raise fail(None, f"no action (add action = one of {', '.join(ACTIONS)})")
    if action not in ACTIONS:
        raise fail("action", f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
    matchers: list[Matcher] = []
    for key, value in raw.items():
        if key in ("name", "action") or key in _RULE_ESCALATION_KEYS:
            continue
        build = _MATCHERS.get(key)
        if build is None:
            known = ", ".join(sorted(_MATCHERS))
            raise fail(
                key, f"unknown key {key!r} (matchers: {known}; or name, action, {', '.join(_RULE_ESCALATION_KEYS)})"
            )
        try:
            matchers.append(build(key, value))
        except (TypeError, ValueError, re.error) as exc:
            raise fail(key, f"{key}: {exc}") from None
    timeout = raw.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
        raise fail("timeout", "timeout is a number of seconds above 0")
    on_timeout = raw.get("on_timeout")
    if on_timeout is not None and on_timeout not in TIMEOUT_ACTIONS:
        raise fail("on_timeout", f"on_timeout = {on_timeout!r}: expected one of {', '.join(TIMEOUT_ACTIONS)}")
    approve_as = raw.get("approve_as", "accept")
    if approve_as not in ("accept", "acceptForSession"):
        raise fail("approve_as", f"approve_as = {approve_as!r}: expected accept or acceptForSession")
    if action != "escalate":
        for key in _RULE_ESCALATION_KEYS & raw.keys():
            raise fail(key, f'{key} only applies to action = "escalate"')
    return Rule(
        name,
        start,
        action,
        tuple(matchers),
        float(timeout) if timeout is not None else None,
        on_timeout,
        approve_as,
    )


def _escalation(raw: Any, lines: _Lines, source: str) -> Escalation | None:
    if raw is None:
        return None
    start = lines.table("escalation")

    def fail(key: str, message: str) -> PolicyError:
        return PolicyError(source, lines.key(key, start), f"[escalation] {message}")

    if not isinstance(raw, dict):
        raise PolicyError(source, start, "escalation is a table: [escalation]")
    for key in raw:
        if key not in _ESCALATION_KEYS:
            raise fail(key, f"unknown key {key!r} (expected one of {', '.join(sorted(_ESCALATION_KEYS))})")
    webhook = raw.get("webhook")
    if not isinstance(webhook, str) or not webhook.startswith(("http://", "https://")):
        raise fail("webhook", "webhook = the change-management service's http:// or https:// URL")
    values: dict[str, Any] = {"webhook": webhook}
    for key, attribute in (("timeout", "timeout_s"), ("poll_interval", "poll_interval_s")):
        value = raw.get(key)
        if value is not None:
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise fail(key, f"{key} is a number of seconds above 0")
            values[attribute] = float(value)
    for key, allowed in (("on_timeout", TIMEOUT_ACTIONS), ("on_error", ERROR_ACTIONS)):
        value = raw.get(key)
        if value is not None:
            if value not in allowed:
                raise fail(key, f"{key} = {value!r}: expected one of {', '.join(allowed)}")
            values[key] = value
    for key in ("secret_env", "callback_url", "status_url"):
        value = raw.get(key)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise fail(key, f"{key} is a non-empty string")
            values[key] = value
    return Escalation(**values)


# ---------------------------------------------------------------------------- matchers


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(f"expected {what}: a string or a non-empty list of strings")


def _glob(value: str, text: str | None) -> bool:
    return text is not None and fnmatch.fnmatchcase(text, value)


def _command_prefix(key: str, value: Any) -> Matcher:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise TypeError('expected the argv prefix as a list of strings, e.g. ["git", "status"]')
    prefix = tuple(value)

    def test(request: ApprovalRequest) -> bool:
        argv = request.argv
        return argv is not None and argv[: len(prefix)] == prefix

    return Matcher(key, f"the command starts with {list(prefix)} (a simple command: no shell syntax)", test)


def _command_regex(key: str, value: Any) -> Matcher:
    patterns = [re.compile(p) for p in _strings(value, "a regular expression over the command")]

    def test(request: ApprovalRequest) -> bool:
        command = request.command
        return command is not None and any(p.search(command) for p in patterns)

    return Matcher(key, "the command contains a match of " + " or ".join(f"/{p.pattern}/" for p in patterns), test)


def _paths(key: str, value: Any) -> Matcher:
    globs = _strings(value, "globs over the paths touched")

    def test(request: ApprovalRequest) -> bool:
        paths = request.paths
        workspace = request.workspace
        if not paths:
            return False

        def one(path: str) -> bool:
            # A relative glob is read from the workspace; an absolute one from the root.
            relative = path[len(workspace.rstrip("/")) + 1 :] if workspace and path.startswith(workspace) else None
            return any(_glob(g, path if g.startswith("/") else relative) for g in globs)

        return all(one(path) for path in paths)

    return Matcher(key, f"every path touched matches {' or '.join(repr(g) for g in globs)}", test)


def _workspace(key: str, value: Any) -> Matcher:
    if value not in ("inside", "outside"):
        raise ValueError('expected "inside" or "outside"')
    if value == "inside":
        return Matcher(key, "everything touched is inside the workspace", lambda r: r.inside_workspace() is True)
    # Unknown counts as outside: a rule about leaving the workspace must not miss it.
    return Matcher(key, "something touched is outside the workspace", lambda r: r.inside_workspace() is not True)


def _globbing(
    what: str, subject: str, value_of: Callable[[ApprovalRequest], str | None]
) -> Callable[[str, Any], Matcher]:
    """A matcher of ``subject`` (of a request) against one glob or a list of them."""

    def build(key: str, value: Any) -> Matcher:
        globs = _strings(value, f"a glob over {what}")
        return Matcher(
            key,
            f"{subject} matches {' or '.join(repr(g) for g in globs)}",
            lambda request: any(_glob(g, value_of(request)) for g in globs),
        )

    return build


def _network(key: str, value: Any) -> Matcher:
    if not isinstance(value, bool):
        raise TypeError("expected true (network access is asked) or false (it is not)")
    return Matcher(
        key, "network access is asked" if value else "no network access is asked", lambda r: r.network is value
    )


def _kind(key: str, value: Any) -> Matcher:
    kinds = _strings(value, f"request kinds ({', '.join(KINDS)})")
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} (expected {', '.join(KINDS)})")
    return Matcher(key, f"the request is a {' or '.join(kinds)} approval", lambda r: r.kind in kinds)


_MATCHERS: dict[str, Callable[[str, Any], Matcher]] = {
    "command": _command_prefix,
    "command_glob": _globbing("the command", "the command", lambda r: r.command),
    "command_regex": _command_regex,
    "cwd": _globbing("the working directory", "the cwd", lambda r: r.cwd),
    "paths": _paths,
    "workspace": _workspace,
    "client": _globbing("the thread's client", "the thread's client", lambda r: r.thread.client),
    "source": _globbing("the thread's source", "the thread's source", lambda r: r.thread.source),
    "model": _globbing("the thread's model", "the thread's model", lambda r: r.thread.model),
    "server": _globbing("the server's name", "the server's name", lambda r: r.server),
    "network": _network,
    "kind": _kind,
    "tool": _globbing("the MCP server/tool", "the MCP tool", lambda r: r.tool),
}


# ---------------------------------------------------------------------------- line numbers


class _Lines:
    """Where things are in the policy's text (tomlkit keeps no line numbers in the document)."""

    _ARRAY_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
    _TABLE_HEADER = re.compile(r"^\s*\[")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def rule(self, index: int) -> int:
        seen = -1
        for number, line in enumerate(self.lines, 1):
            if self._ARRAY_HEADER.match(line):
                seen += 1
                if seen == index:
                    return number
        return 1

    def table(self, name: str) -> int:
        pattern = re.compile(rf"^\s*\[\s*{re.escape(name)}\s*\]")
        return next((n for n, line in enumerate(self.lines, 1) if pattern.match(line)), 1)

    def key(self, key: str, start: int = 1) -> int:
        """The line of ``key = …`` in the table starting at line ``start`` (1: the top level)."""
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start, len(self.lines) + 1):
            line = self.lines[number - 1]
            if number > start and self._TABLE_HEADER.match(line):
                break
            if pattern.match(line):
                return number
        return start


def _toml_message(exc: Exception) -> str:
    message = re.sub(r" at line \d+ col \d+$", "", str(exc))
    # tomlkit reads past the end as a NUL character.
    return message.replace("Unexpected character: '\\x00'", "the file ends in the middle of a value")


__all__ = [
    "ACTIONS",
    "ANSWERS",
    "Decision",
    "Escalation",
    "Policy",
    "PolicyError",
    "Rule",
    "load_policy",
    "parse_policy",
]
