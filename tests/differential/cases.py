"""Requests generated from the reference's own schema, for every client method we implement.

Owns: turning a method's params schema (``schema-experimental/ClientRequest.json``, a superset of
the stable one) into :class:`Case` s: the minimal valid params; each required field in every valid
shape, missing and of a wrong type; each optional field omitted, ``null`` and present in every
valid shape; an unknown extra field; params ``{}``, ``null`` and absent. Strings also come empty,
in unicode and large; paths come absolute, relative, ``"."``, ``"~"`` and empty; integers 0, -1
and large; arrays empty. Values that must name something real (a thread, a turn, a file in the
workspace) are written as ``$placeholders`` that :func:`harness.substitute` fills per side.

What a case needs beyond the shared thread (a fresh thread, a running turn…) is its method's
``state`` in :data:`PLANS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from support.reference import REFERENCE_DIR

SCHEMA = json.loads((REFERENCE_DIR / "schema-experimental" / "ClientRequest.json").read_text())
DEFINITIONS: dict[str, Any] = SCHEMA["definitions"]
PARAMS_SCHEMAS: dict[str, Any] = {
    entry["properties"]["method"]["enum"][0]: entry["properties"].get("params", {"type": "null"})
    for entry in SCHEMA["oneOf"]
}

#: ``params`` left out of the request altogether.
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "<absent>"})()

UNICODE = "héllo wörld ✓ 日本語 🎉 \u202e"
LARGE = "x" * 65_536
#: Bigger than every integer type the reference uses (u64).
HUGE_INT = 2**64 + 1
MAX_DEPTH = 4


@dataclass(frozen=True)
class Case:
    label: str
    params: Any
    #: What must exist before this case runs, per side (see ``harness.Side.make_state``).
    state: str = "shared"


@dataclass(frozen=True)
class Plan:
    """How a method's cases run: the state each needs and whether they may be pipelined."""

    #: "none" | "shared" | "fresh" | "saved" | "archived" | "running" | "process" | "spawned" | "connection"
    state: str = "shared"
    #: One state for all the method's cases (they do not consume it), instead of one per case.
    state_once: bool = False
    #: Cases whose effects the next case sees (files, config, logins) run one at a time, so both
    #: sides see the same order.
    sequential: bool = False
    #: Per-field valid values (first = the one used while other fields vary); beats FIELD_VALUES.
    values: dict[str, list[Any]] = field(default_factory=dict)
    #: Shapes not sent, each with why (printed in the summary): e.g. a login that opens a port.
    excluded: dict[str, str] = field(default_factory=dict)


#: Valid values by field name, for every method (a method's Plan.values overrides them).
FIELD_VALUES: dict[str, list[Any]] = {
    # The thread of the case, then a well-formed id no thread has.
    "threadId": ["$thread", "00000000-0000-7000-8000-000000000000"],
    "turnId": ["$turn"],
    "expectedTurnId": ["$turn"],
    "beforeTurnId": ["$turn"],
    "lastTurnId": ["$turn"],
    "model": ["mock-model"],
    "modelProvider": ["mock"],
    "dataBase64": ["aGVsbG8K", "", "!!not base64!!"],
    "deltaBase64": ["aGk=", "!!not base64!!"],
    "processId": ["$process"],
    "cwd": ["$ws"],
    "cwds": [["$ws"]],
    "roots": [["$ws"]],
    "watchId": ["watch-1"],
    "environmentId": ["local", "value"],
    "query": ["main"],
    "text": ["hello"],
    "url": ["https://example.invalid/a.png"],
    "limit": [5],
    "timeoutMs": [10_000],
    "outputBytesCap": [4096],
    "rows": [24],
    "cols": [80],
    "cursor": ["not-a-cursor"],
    "name": ["renamed"],
    "version": ["1.0"],
    "loginId": ["00000000-0000-4000-8000-000000000000"],
    "clientUserMessageId": ["client-message-1"],
}

#: String fields (by name) that hold filesystem paths: they get the path variants.
PATH_FIELDS = frozenset({"cwd", "path", "sourcePath", "destinationPath", "filePath", "cwds", "roots"})
PATH_VARIANTS: list[tuple[str, Any]] = [
    ("relative", "src"),
    ("dot", "."),
    ("tilde", "~"),
    ("tilde-child", "~/x"),
    ("empty", ""),
    ("unicode", "$ws/ünïcødé ✓.txt"),
]

_STATE_RUNNING = "running"

PLANS: dict[str, Plan] = {
    "initialize": Plan(state="connection"),
    "thread/start": Plan(state="none"),
    "thread/resume": Plan(),
    "thread/fork": Plan(),
    "thread/read": Plan(),
    "thread/list": Plan(state="none"),
    "thread/loaded/list": Plan(state="none"),
    "thread/name/set": Plan(),
    "thread/archive": Plan(state="saved"),
    "thread/unarchive": Plan(state="archived"),
    "thread/unsubscribe": Plan(state="fresh"),
    "thread/revert": Plan(state="saved"),
    "thread/turns/list": Plan(),
    "thread/items/list": Plan(),
    "thread/compact/start": Plan(state="saved"),
    "turn/start": Plan(state="fresh", values={"input": [[{"type": "text", "text": "hello"}]]}),
    # Steering adds input and leaves the turn running: every case may steer the same turn.
    "turn/steer": Plan(
        state=_STATE_RUNNING, state_once=True, values={"input": [[{"type": "text", "text": "also this"}]]}
    ),
    "turn/interrupt": Plan(state=_STATE_RUNNING),
    "account/read": Plan(state="none"),
    "account/login/start": Plan(
        state="none",
        sequential=True,
        values={"apiKey": ["sk-test-key"]},
        excluded={
            "chatgpt": "starts a browser login server on the fixed port 1455 (both sides would race for it)",
            "chatgptDeviceCode": "asks auth.openai.com for a device code (no network here)",
        },
    ),
    "account/login/cancel": Plan(state="none"),
    "account/logout": Plan(state="none", sequential=True),
    "account/rateLimits/read": Plan(state="none"),
    "model/list": Plan(state="none"),
    "config/read": Plan(state="none"),
    "config/value/write": Plan(
        state="none",
        sequential=True,
        values={"keyPath": ["model"], "value": ["mock-model"], "filePath": ["$codex_home/config.toml"]},
    ),
    "config/batchWrite": Plan(
        state="none",
        sequential=True,
        values={
            "edits": [[{"keyPath": "model", "mergeStrategy": "replace", "value": "mock-model"}]],
            "filePath": ["$codex_home/config.toml"],
        },
    ),
    "configRequirements/read": Plan(state="none"),
    "experimentalFeature/list": Plan(state="none"),
    "skills/list": Plan(state="none"),
    "skills/config/write": Plan(state="none", sequential=True, values={"path": ["$ws/skills/demo/SKILL.md"]}),
    "hooks/list": Plan(state="none"),
    "fs/readFile": Plan(state="none", values={"path": ["$ws/hello.txt"]}),
    "fs/writeFile": Plan(state="none", sequential=True, values={"path": ["$ws/written.txt"]}),
    "fs/createDirectory": Plan(state="none", sequential=True, values={"path": ["$ws/new-dir/sub"]}),
    "fs/getMetadata": Plan(state="none", values={"path": ["$ws/hello.txt"]}),
    "fs/readDirectory": Plan(state="none", values={"path": ["$ws"]}),
    "fs/remove": Plan(state="none", sequential=True, values={"path": ["$ws/to-remove.txt"]}),
    "fs/copy": Plan(
        state="none",
        sequential=True,
        values={"sourcePath": ["$ws/hello.txt"], "destinationPath": ["$ws/copied.txt"]},
    ),
    "fs/watch": Plan(state="none", sequential=True, values={"path": ["$ws"]}),
    "fs/unwatch": Plan(state="none", sequential=True),
    "fuzzyFileSearch": Plan(state="none"),
    "command/exec": Plan(state="none", values={"command": [["echo", "hi"]], "processId": ["exec-$case"]}),
    "command/exec/write": Plan(state="process"),
    "command/exec/resize": Plan(state="process"),
    "command/exec/terminate": Plan(state="process"),
    "thread/shellCommand": Plan(state="fresh", values={"command": ["echo hi"]}),
    "mcpServerStatus/list": Plan(state="none"),
    "mcpServer/tool/call": Plan(values={"server": ["no-such-server"], "tool": ["echo"]}),
    # Plugins: the marketplace beside each side's workspace (harness.Side.prepare_dirs); one at a
    # time, since each case sees what the previous added, installed or removed.
    **{
        method: Plan(
            state="none",
            sequential=True,
            values={
                "source": ["$root/marketplace"],
                "marketplacePath": ["$marketplace"],
                "pluginName": ["alpha"],
                "pluginId": ["alpha@diffmk"],
                "marketplaceName": ["diffmk"],
            },
        )
        for method in (
            "marketplace/add",
            "plugin/list",
            "plugin/read",
            "plugin/install",
            "plugin/installed",
            "plugin/uninstall",
            "marketplace/upgrade",
            "marketplace/remove",
        )
    },
    "thread/search": Plan(state="saved", state_once=True, values={"searchTerm": ["hello", "fake model"]}),
    "thread/searchOccurrences": Plan(state="saved", state_once=True, values={"searchTerm": ["hello", "fake model"]}),
    # A handle per case ($case): spawns are answered at once and may overlap.
    "process/spawn": Plan(state="none", values={"command": [["echo", "hi"]], "processHandle": ["$case"]}),
    "process/writeStdin": Plan(state="spawned", values={"processHandle": ["$process"]}),
    "process/resizePty": Plan(state="spawned", values={"processHandle": ["$process"]}),
    "process/kill": Plan(state="spawned", values={"processHandle": ["$process"]}),
    # Each case its own thread: an active goal starts turns (the fake model completes the goal).
    "thread/goal/set": Plan(state="fresh", values={"objective": ["Fix the bug"]}),
    "thread/goal/get": Plan(),
    "thread/goal/clear": Plan(state="fresh"),
    "account/usage/read": Plan(state="none"),
    "review/start": Plan(state="fresh", values={"instructions": ["Check the error handling"], "sha": ["HEAD"]}),
    "thread/approveGuardianDeniedAction": Plan(
        values={
            "event": [
                {
                    "id": "review-1",
                    "status": "denied",
                    "action": {
                        "type": "network_access",
                        "target": "https://example.com",
                        "host": "example.com",
                        "protocol": "https",
                        "port": 443,
                    },
                }
            ]
        }
    ),
    "externalAgentConfig/detect": Plan(state="none"),
    "externalAgentConfig/import": Plan(state="none", sequential=True),
    "externalAgentConfig/import/recordHistory": Plan(state="none", sequential=True, values={"providerId": ["claude"]}),
    "externalAgentConfig/import/readHistories": Plan(state="none"),
    # No MCP server is configured on either side: every login is refused.
    "mcpServer/oauth/login": Plan(state="none"),
}


# --------------------------------------------------------------------------- schema walking


def resolve(schema: Any) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = DEFINITIONS[schema["$ref"].rsplit("/", 1)[-1]]
    if isinstance(schema, dict) and "allOf" in schema and len(schema["allOf"]) == 1:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        return {**resolve(schema["allOf"][0]), **merged}
    return schema


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return [k for k in kind if k != "null"]
    return [kind] if isinstance(kind, str) else []


def nullable(schema: Any) -> bool:
    schema = resolve(schema)
    if not isinstance(schema, dict):
        return True
    if "null" in (schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]):
        return True
    return any(resolve(b).get("type") == "null" for b in schema.get("anyOf", []) if isinstance(resolve(b), dict))


def branches(schema: Any) -> list[Any]:
    """The non-null alternatives of a schema, each resolved (an object with properties *and* an
    ``anyOf`` of property sets becomes one object per set)."""
    schema = resolve(schema)
    if not isinstance(schema, dict):
        return [schema]
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives and "properties" not in schema:
        out = []
        for alternative in alternatives:
            alternative = resolve(alternative)
            if isinstance(alternative, dict) and alternative.get("type") == "null":
                continue
            out.extend(branches(alternative))
        return out
    if alternatives:
        out = []
        for alternative in alternatives:
            alternative = resolve(alternative)
            out.append(
                {
                    **schema,
                    "properties": {**schema["properties"], **alternative.get("properties", {})},
                    "required": [*schema.get("required", []), *alternative.get("required", [])],
                    "anyOf": None,
                    "oneOf": None,
                }
            )
        return out
    return [schema]


class Generator:
    """Valid and invalid sample values for one method (field overrides from its Plan)."""

    def __init__(self, method: str, plan: Plan) -> None:
        self.method = method
        self.plan = plan

    def overrides(self, name: str) -> list[Any] | None:
        if name in self.plan.values:
            return self.plan.values[name]
        return FIELD_VALUES.get(name)

    def default(self, name: str, schema: Any, depth: int = 0) -> Any:
        """The one valid value used for ``name`` while other fields vary."""
        override = self.overrides(name)
        if override is not None:
            return override[0]
        return self.samples(name, schema, depth)[0][1]

    def samples(self, name: str, schema: Any, depth: int = 0) -> list[tuple[str, Any]]:
        """Labelled valid values of a field: every enum value and branch, plus edge shapes."""
        out: list[tuple[str, Any]] = []
        override = self.overrides(name)
        if override is not None:
            out.extend((f"value {json.dumps(v, ensure_ascii=False)[:40]}", v) for v in override)
        for branch in branches(schema):
            out.extend(self._branch_samples(name, branch, depth, bool(override)))
        return out or [("any", {})]

    def _branch_samples(self, name: str, schema: Any, depth: int, overridden: bool) -> Iterator[tuple[str, Any]]:
        if not isinstance(schema, dict) or not schema:
            yield "empty object", {}
            return
        if "enum" in schema:
            for value in schema["enum"]:
                yield f"enum {value}", value
            return
        if "const" in schema:
            yield f"const {schema['const']}", schema["const"]
            return
        for kind in _types(schema) or ["object"]:
            if kind == "string":
                yield from self._strings(name, overridden)
            elif kind == "integer":
                base = [] if overridden else [("1", 1)]
                yield from [*base, ("zero", 0), ("negative", -1), ("huge", HUGE_INT)]
            elif kind == "number":
                yield from [("1.5", 1.5), ("zero", 0)]
            elif kind == "boolean":
                yield from [("true", True), ("false", False)]
            elif kind == "array":
                yield from self._arrays(name, schema, depth, overridden)
            elif kind == "object":
                yield from self._objects(name, schema, depth)

    def _strings(self, name: str, overridden: bool) -> Iterator[tuple[str, Any]]:
        if not overridden:
            yield "text", "value"
        if name in PATH_FIELDS:
            yield from (("absolute", "$ws") if not overridden else ("unicode", UNICODE), *PATH_VARIANTS)
            return
        yield from [("empty", ""), ("unicode", UNICODE), ("large", LARGE)]

    def _arrays(self, name: str, schema: dict[str, Any], depth: int, overridden: bool) -> Iterator[tuple[str, Any]]:
        items = schema.get("items", {})
        yield "[]", []
        if depth >= MAX_DEPTH:
            return
        if name in PATH_FIELDS:
            for label, path in PATH_VARIANTS:
                yield f"[{label}]", [path]
            return
        if not overridden:
            for label, value in self.samples(name + "[]", items, depth + 1)[:1]:
                yield f"[{label}]", [value]
        for branch in branches(items)[1:] if len(branches(items)) > 1 else []:
            yield f"[{branch.get('title', 'variant')}]", [self.minimal(branch, depth + 1)]

    def _objects(self, name: str, schema: dict[str, Any], depth: int) -> Iterator[tuple[str, Any]]:
        title = schema.get("title", "object")
        if "properties" not in schema:
            yield f"{title} {{}}", {}
            extra = schema.get("additionalProperties", True)
            if extra is not False and depth < MAX_DEPTH:
                value = "value" if extra is True else self.default("value", extra, depth + 1)
                yield f"{title} map", {"key": value}
            return
        yield f"{title} minimal", self.minimal(schema, depth + 1)
        if depth < MAX_DEPTH and set(schema["properties"]) - set(schema.get("required", [])):
            yield f"{title} full", self.full(schema, depth + 1)

    def minimal(self, schema: Any, depth: int = 0) -> Any:
        schema = resolve(schema)
        if not isinstance(schema, dict) or "properties" not in schema:
            return self.default("", schema, depth) if isinstance(schema, dict) and schema else {}
        return {
            key: self.default(key, prop, depth + 1)
            for key, prop in schema["properties"].items()
            if key in schema.get("required", [])
        }

    def full(self, schema: Any, depth: int = 0) -> Any:
        schema = resolve(schema)
        return {key: self.default(key, prop, depth + 1) for key, prop in schema.get("properties", {}).items()}

    def wrong_type(self, schema: Any) -> Any:
        kinds = set()
        for branch in branches(schema):
            if isinstance(branch, dict):
                kinds.update(_types(branch) or (["string"] if "enum" in branch else ["object"]))
        if "string" not in kinds:
            return "wrong type"
        if "integer" not in kinds and "number" not in kinds:
            return 12345
        return ["wrong type"]

    # ----------------------------------------------------------------- cases

    def cases(self) -> list[Case]:
        schema = resolve(PARAMS_SCHEMAS[self.method])
        top = branches(schema)
        out: list[Case] = []
        if all(isinstance(b, dict) and b.get("type") == "null" for b in [schema]):
            out += [Case("params absent", ABSENT), Case("params null", None), Case("params {}", {})]
            out += [Case("params {unknown}", {"unknownField": 1})]
            return out
        if nullable(schema):
            out += [Case("params absent", ABSENT), Case("params null", None)]
        else:
            out += [Case("params absent", ABSENT), Case("params null", None), Case("params []", [])]
        for branch in top:
            title = branch.get("title", "params") if isinstance(branch, dict) else "params"
            variant = self._variant_name(branch)
            if variant in self.plan.excluded:
                continue
            out += self._object_cases(branch, prefix=f"{title}: " if len(top) > 1 else "")
        return out

    @staticmethod
    def _variant_name(branch: Any) -> str | None:
        if not isinstance(branch, dict):
            return None
        kind = branch.get("properties", {}).get("type", {})
        enum = kind.get("enum") if isinstance(kind, dict) else None
        return enum[0] if enum else None

    def _object_cases(self, schema: dict[str, Any], prefix: str) -> list[Case]:
        properties: dict[str, Any] = schema.get("properties", {})
        required = [key for key in properties if key in schema.get("required", [])]
        base = self.minimal(schema)
        out = [Case(f"{prefix}minimal", base), Case(f"{prefix}unknown extra field", {**base, "unknownField": "x"})]
        if len(properties) > len(required):
            out.append(Case(f"{prefix}every field", self.full(schema)))
        for key in required:
            prop = properties[key]
            if key == "type" and self._variant_name(schema):
                continue
            out.append(Case(f"{prefix}{key} missing", {k: v for k, v in base.items() if k != key}))
            out.append(Case(f"{prefix}{key} null", {**base, key: None}))
            out.append(Case(f"{prefix}{key} wrong type", {**base, key: self.wrong_type(prop)}))
            out += [Case(f"{prefix}{key} {label}", {**base, key: value}) for label, value in self.samples(key, prop)]
        for key, prop in properties.items():
            if key in required:
                continue
            out.append(Case(f"{prefix}{key} null", {**base, key: None}))
            out.append(Case(f"{prefix}{key} wrong type", {**base, key: self.wrong_type(prop)}))
            out += [Case(f"{prefix}{key} {label}", {**base, key: value}) for label, value in self.samples(key, prop)]
        return _dedupe(out)


def _dedupe(cases: list[Case]) -> list[Case]:
    seen: set[str] = set()
    out = []
    for case in cases:
        key = json.dumps(case.params, sort_keys=True, default=repr)
        if key not in seen:
            seen.add(key)
            out.append(case)
    return out


def cases_for(method: str) -> list[Case]:
    plan = PLANS[method]
    return [replace(case, state=plan.state) for case in Generator(method, plan).cases()]
