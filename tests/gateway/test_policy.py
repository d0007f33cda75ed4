"""The policy file: each matcher on requests shaped as the server sends them, first match wins,
every mistake named with its line, ``--check``'s explanation, and the answer each action makes
for each kind of request (the end-to-end tests in test_gateway.py drive the same code through a
real server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_app_server.gateway.policy import PolicyError, parse_policy
from agent_app_server.gateway.requests import ApprovalRequest, ThreadInfo, approval_kind
from support.cli_process import cli

WS = "/home/dev/project"
THREAD = ThreadInfo(client="vscode", source="vscode", model="gpt-5", workspace=WS)


def command(text: str, cwd: str = WS, **extra: Any) -> ApprovalRequest:
    params = {"threadId": "t1", "turnId": "u1", "itemId": "call_1", "startedAtMs": 1, "command": text, "cwd": cwd}
    return ApprovalRequest("item/commandExecution/requestApproval", "command", "prod", {**params, **extra}, THREAD)


def file_change(*paths: str) -> ApprovalRequest:
    params = {"threadId": "t1", "turnId": "u1", "itemId": "call_p", "startedAtMs": 1}
    changes = {path: f"+{path}\n" for path in paths}
    return ApprovalRequest("item/fileChange/requestApproval", "fileChange", "prod", params, THREAD, changes)


def permissions(write: list[str], network: bool) -> ApprovalRequest:
    params = {
        "threadId": "t1",
        "turnId": "u1",
        "itemId": "p1",
        "startedAtMs": 1,
        "cwd": WS,
        "permissions": {"fileSystem": {"write": write}, "network": {"enabled": network}},
    }
    return ApprovalRequest("item/permissions/requestApproval", "permissions", "prod", params, THREAD)


def tool_call(tool: str) -> ApprovalRequest:
    params = {
        "threadId": "t1",
        "turnId": "u1",
        "serverName": "github",
        "mode": "form",
        "message": "Allow?",
        "requestedSchema": {"type": "object", "properties": {}},
        "_meta": {"codex_approval_kind": "mcp_tool_call", "tool_name": tool, "tool_params": {}},
    }
    return ApprovalRequest("mcpServer/elicitation/request", "mcpToolCall", "prod", params, THREAD)


def decides(rule: str, request: ApprovalRequest) -> bool:
    policy = parse_policy(f'default = "decline"\n[[rule]]\nname = "r"\naction = "accept"\n{rule}\n')
    return policy.decide(request).rule == "r"


@pytest.mark.parametrize(
    ("rule", "request_", "expected"),
    [
        ('command = ["git", "status"]', command("git status --short"), True),
        ('command = ["git", "status"]', command("/bin/bash -lc 'git status'"), True),
        ('command = ["git", "status"]', command("git stash"), False),
        # A prefix says nothing once shell syntax follows it.
        ('command = ["git", "status"]', command("git status; rm -rf /"), False),
        ('command = ["git", "status"]', command("git status $(rm -rf /)"), False),
        ('command_glob = "npm run *"', command("npm run test"), True),
        ('command_glob = "npm run *"', command("npx something"), False),
        ("command_regex = '^rm\\s+-rf\\s'", command("rm -rf node_modules"), True),
        ("command_regex = '^rm\\s+-rf\\s'", command("rm node_modules"), False),
        ('cwd = "/home/*/project"', command("ls", cwd="/home/dev/project"), True),
        ('cwd = "/home/*/project"', command("ls", cwd="/tmp"), False),
        ('paths = ["src/**"]', file_change(f"{WS}/src/a.py", f"{WS}/src/b/c.py"), True),
        ('paths = ["src/**"]', file_change(f"{WS}/src/a.py", f"{WS}/setup.py"), False),
        ('paths = ["/etc/*"]', file_change("/etc/hosts"), True),
        ('workspace = "inside"', file_change(f"{WS}/a.py"), True),
        ('workspace = "inside"', file_change(f"{WS}/../other/a.py"), False),
        ('workspace = "outside"', file_change("/etc/hosts"), True),
        ('workspace = "outside"', command("ls", cwd="/tmp"), True),
        ('workspace = "inside"', permissions([f"{WS}/build"], network=False), True),
        ('client = "vs*"', command("ls"), True),
        ('client = "cli"', command("ls"), False),
        ('source = "vscode"', command("ls"), True),
        ('model = ["gpt-4*", "gpt-5"]', command("ls"), True),
        ('model = "o3"', command("ls"), False),
        ('server = "prod"', command("ls"), True),
        ('server = "staging"', command("ls"), False),
        ("network = true", permissions([], network=True), True),
        ("network = true", command("curl x", networkApprovalContext={"host": "x", "protocol": "https"}), True),
        ("network = true", command("ls"), False),
        ("network = false", command("ls"), True),
        ('kind = ["fileChange", "permissions"]', file_change(f"{WS}/a"), True),
        ('kind = "command"', tool_call("create_issue"), False),
        ('tool = "github/create_*"', tool_call("create_issue"), True),
        ('tool = "github/create_*"', tool_call("delete_repo"), False),
    ],
)
def test_each_matcher(rule: str, request_: ApprovalRequest, expected: bool) -> None:
    assert decides(rule, request_) is expected


def test_the_first_matching_rule_decides_and_all_matchers_of_a_rule_must_hold() -> None:
    policy = parse_policy(
        """
default = "ask"
[[rule]]
name = "git in vscode"
command = ["git"]
client = "vscode"
action = "accept"
[[rule]]
name = "any git"
command = ["git"]
action = "decline"
"""
    )
    assert policy.decide(command("git log")).rule == "git in vscode"
    other = ApprovalRequest("item/commandExecution/requestApproval", "command", "prod", command("git log").params)
    assert (policy.decide(other).rule, policy.decide(other).action) == ("any git", "decline")
    assert (policy.decide(command("ls")).rule, policy.decide(command("ls")).action) == ("default", "ask")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            'default = "maybe"\n',
            ":1: default = 'maybe': expected one of accept, acceptForSession, decline, escalate, ask",
        ),
        ('default = "decline"\n\n[[rule]]\nname = "a"\naction = "acept"\n', ":5: rule 1: unknown action 'acept'"),
        ('[[rule]]\nname = "a"\n', ":1: rule 1: no action (add action = one of"),
        ('[[rule]]\naction = "accept"\ncomand = ["ls"]\n', ":3: rule 1: unknown key 'comand' (matchers: "),
        (
            '[[rule]]\naction = "accept"\n[[rule]]\naction = "accept"\ncommand = "ls"\n',
            ":5: rule 2: command: expected the argv prefix",
        ),
        (
            '[[rule]]\naction = "accept"\ncommand_regex = "(unclosed"\n',
            ":3: rule 1: command_regex: missing ), unterminated subpattern",
        ),
        ('[[rule]]\naction = "accept"\nworkspace = "near"\n', ':3: rule 1: workspace: expected "inside" or "outside"'),
        (
            '[[rule]]\naction = "escalate"\n',
            ":1: this escalates, but the policy has no [escalation] table with a webhook",
        ),
        (
            '[escalation]\nwebhook = "ftp://x"\n',
            ":2: [escalation] webhook = the change-management service's http:// or https:// URL",
        ),
        (
            '[escalation]\nwebhook = "http://x"\non_error = "accept"\n',
            ":3: [escalation] on_error = 'accept': expected one of decline, ask",
        ),
        ('[[rule]]\naction = "accept"\ntimeout = 5\n', ':3: rule 1: timeout only applies to action = "escalate"'),
        (
            '[[rule]]\nname = "a"\naction = "accept"\n[[rule]]\nname = "a"\naction = "decline"\n',
            ":4: a second rule named 'a'",
        ),
        ('default = "decline"\nrule = [\n', ":2: not valid TOML: the file ends in the middle of a value"),
        ('colour = "red"\n', ":1: unknown key 'colour'"),
    ],
)
def test_a_bad_policy_names_its_line_and_what_to_write(text: str, where: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "p.toml")
    assert str(raised.value).startswith("p.toml" + where), str(raised.value)


@pytest.mark.parametrize(
    ("request_", "action", "answer"),
    [
        (command("ls"), "acceptForSession", {"decision": "acceptForSession"}),
        (file_change("/a"), "decline", {"decision": "decline"}),
        (
            permissions(["/w"], network=True),
            "accept",
            {"permissions": {"fileSystem": {"write": ["/w"]}, "network": {"enabled": True}}, "scope": "turn"},
        ),
        (permissions(["/w"], network=True), "decline", {"permissions": {}, "scope": "turn"}),
        (tool_call("x"), "accept", {"action": "accept", "content": {}}),
        (tool_call("x"), "acceptForSession", {"action": "accept", "content": {}, "_meta": {"persist": "session"}}),
        (tool_call("x"), "decline", {"action": "decline", "content": None}),
    ],
)
def test_answers_per_kind(request_: ApprovalRequest, action: str, answer: dict[str, Any]) -> None:
    assert request_.answer(action) == answer


def test_only_tool_call_elicitations_are_approvals_and_the_fingerprint_ignores_when_it_was_asked() -> None:
    assert approval_kind("mcpServer/elicitation/request", tool_call("x").params) == "mcpToolCall"
    form = {"threadId": "t", "serverName": "s", "mode": "form", "message": "Your name?", "requestedSchema": {}}
    assert approval_kind("mcpServer/elicitation/request", form) is None
    first = command("ls")
    again = command("ls", startedAtMs=99)
    assert first.fingerprint() == again.fingerprint()
    assert first.fingerprint() != command("ls", turnId="u2").fingerprint()
    assert first.fingerprint() != command("ls -a").fingerprint()


async def test_check_explains_each_rule(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'default = "ask"\n[escalation]\nwebhook = "https://cm.example/hook"\ntimeout = 600\n'
        '[[rule]]\nname = "tickets for rm"\ncommand_regex = "^rm "\naction = "escalate"\napprove_as = "accept"\n'
        '[[rule]]\nname = "status"\ncommand = ["git", "status"]\nserver = "prod"\naction = "accept"\n'
    )
    ran = await cli(tmp_path, "gateway", "--check", str(path))
    assert ran.code == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        f"{path}: 2 rule(s), tried in order; the first that matches decides",
        "  1. rule 'tickets for rm' (line 5): the command contains a match of /^rm / → escalate (approved → accept)",
        "  2. rule 'status' (line 10): the command starts with ['git', 'status'] (a simple command: no shell syntax)"
        " and the server's name matches 'prod' → accept",
        "  otherwise: ask",
        "  escalation: POST https://cm.example/hook; decided by HMAC-signed callback (key in $AGENT_GATEWAY_SECRET);"
        " after 600 s → decline; webhook unreachable → decline",
    ]
