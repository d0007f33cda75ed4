"""thread/settings/update (experimental) through the real server over WebSocket: every client of
the thread hears thread/settings/updated, and the next turn runs with the new settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, Hold, function_call_reply, text_reply
from support.agent_turns import ENV, exec_args
from support.model_config import write_mock_config
from support.ws_client import ws_servers


async def test_every_client_of_the_thread_hears_the_new_settings(codex_home: Path, tmp_path: Path) -> None:
    async with FakeModelServer() as model:
        write_mock_config(codex_home, model.base_url)
        async with ws_servers(codex_home, tmp_path) as spawn:
            server = await spawn(env=ENV)
            editor = await server.client()
            await editor.initialize(experimental=True)
            watcher = await server.client()
            await watcher.initialize()
            thread_id = (await editor.result("thread/start", {"cwd": str(tmp_path)}))["thread"]["id"]
            await watcher.result("thread/resume", {"threadId": thread_id})

            update = {"threadId": thread_id, "model": "other-model", "effort": "high", "permissions": ":workspace"}
            assert await editor.result("thread/settings/update", update) == {}
            for client in (editor, watcher):
                settings = (await client.notification("thread/settings/updated"))["params"]["threadSettings"]
                assert settings["model"] == "other-model" and settings["effort"] == "high"
                assert settings["sandboxPolicy"]["type"] == "workspaceWrite"
                assert settings["activePermissionProfile"] == {"id": ":workspace", "extends": None}
                assert settings["collaborationMode"]["settings"]["model"] == "other-model"
                assert settings["cwd"] == str(tmp_path)

            model.enqueue(text_reply("ok"))
            await editor.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
            await editor.notification("turn/completed")
            body = model.requests[-1].body
            assert body["model"] == "other-model" and body["reasoning"]["effort"] == "high"

            # Nothing changed, nothing announced; the next thing either client hears is the next update.
            assert await editor.result("thread/settings/update", {"threadId": thread_id}) == {}
            await editor.result("thread/settings/update", {"threadId": thread_id, "summary": "concise"})
            settings = (await watcher.notification("thread/settings/updated"))["params"]["threadSettings"]
            assert settings["summary"] == "concise" and settings["model"] == "other-model"


@pytest.mark.compat("settings:unsupported-refused")
async def test_settings_this_server_cannot_honour_are_refused(codex_home: Path, tmp_path: Path) -> None:
    async with ws_servers(codex_home, tmp_path) as spawn:
        server = await spawn()
        client = await server.client()
        await client.initialize(experimental=True)
        thread_id = (await client.result("thread/start", {}))["thread"]["id"]
        refused = {
            "unknown permission profile `:nope`": {"permissions": ":nope"},
            "cannot be combined with `sandboxPolicy`": {
                "permissions": ":workspace",
                "sandboxPolicy": {"type": "readOnly", "networkAccess": False},
            },
            "collaboration mode `plan` is not supported": {
                "collaborationMode": {"mode": "plan", "settings": {"model": "m"}}
            },
            "unknown environment `remote`": {"environments": [{"environmentId": "remote", "cwd": "/"}]},
            "plugins cannot be disabled per thread": {"disabledPluginIds": ["p"]},
        }
        for message, params in refused.items():
            response = await client.call("thread/settings/update", {"threadId": thread_id, **params})
            assert response["error"]["code"] == -32602 and message in response["error"]["message"], response
        modes = await client.result("collaborationMode/list", {})
        assert modes == {"data": [{"name": "Default", "mode": "default", "model": None, "reasoning_effort": None}]}
        plain = await server.client()
        await plain.initialize()
        gated = await plain.call("thread/settings/update", {"threadId": thread_id, "model": "x"})
        assert gated["error"]["code"] == -32600 and "experimentalApi" in gated["error"]["message"]


@pytest.mark.compat("settings:turn-update")
async def test_turn_settings_change_only_the_rest_of_the_running_turn(codex_home: Path, tmp_path: Path) -> None:
    async with FakeModelServer() as model:
        write_mock_config(codex_home, model.base_url)
        async with ws_servers(codex_home, tmp_path) as spawn:
            server = await spawn(env=ENV)
            client = await server.client()
            await client.initialize(experimental=True)
            thread_id = (await client.result("thread/start", {}))["thread"]["id"]
            release = asyncio.Event()
            call = function_call_reply("exec_command", exec_args("echo hi"), "call_1")
            model.enqueue([call[0], Hold(release), *call[1:]], text_reply("done"), text_reply("next turn"))
            started = await client.result(
                "turn/start",
                {
                    "threadId": thread_id,
                    "input": [{"type": "text", "text": "go"}],
                    "approvalPolicy": "never",
                    "sandboxPolicy": {"type": "dangerFullAccess"},
                },
            )
            turn_id = started["turn"]["id"]
            await model.wait_for_requests(1)  # the turn's first request is out (and held)
            update = {"threadId": thread_id, "turnId": turn_id, "model": "faster-model", "effort": "low"}
            assert await client.result("turn/settings/update", update) == {"status": "applied"}
            release.set()
            await client.notification("turn/completed", within=60)
            # The request after the tool call (same turn) uses the new model; the next turn does not.
            assert [request.body["model"] for request in model.response_requests()] == ["mock-model", "faster-model"]
            assert model.response_requests()[1].body["reasoning"]["effort"] == "low"
            await client.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "again"}]})
            await client.notification("turn/completed", within=60)
            assert model.response_requests()[-1].body["model"] == "mock-model"

            gone = await client.result("turn/settings/update", {**update, "turnId": turn_id})
            assert gone == {"status": "targetUnavailable"}
            refused = await client.call("turn/settings/update", {**update, "serviceTier": "flex"})
            assert refused["error"]["code"] == -32602 and "serviceTier" in refused["error"]["message"]
