"""Methods of the reference's protocol that this server deliberately does not offer, and why.

Owns: the one table of them. Each answers ``-32601`` with its reason (the server's dispatcher
reads this table), and docs/compatibility.md lists the same table for people (a test keeps the
two equal). A method in neither this table nor the registry is simply not implemented yet.
Layer: protocol (imports nothing from this project).
"""

from __future__ import annotations

__all__ = ["NOT_OFFERED", "not_offered_reason"]

_REMOTE_PLUGINS = (
    "this works on OpenAI's remote plugin catalog (ChatGPT sign-in), which this server does not connect to; "
    "plugins from local and git marketplaces are offered (marketplace/add, plugin/list, plugin/install)"
)
_APPS = "ChatGPT apps are distributed through OpenAI's services, which this server does not connect to"
_CHATGPT_ACCOUNT = "ChatGPT workspace, credits and gateway accounts exist only on OpenAI's services"
_REMOTE_CONTROL = "remote control pairs the server with chatgpt.com; serve it over --listen ws:// instead"
_USER_VERIFICATION = "user verification is an OpenAI account service"
_WINDOWS_SANDBOX = "the Windows sandbox exists only on Windows; this server sandboxes with bubblewrap on Linux"
_REALTIME = "realtime audio sessions need OpenAI's realtime service"
_FEEDBACK = "feedback is uploaded to OpenAI; this server sends nothing to a third party"
_CLOUD_ACCOUNTS = (
    "Amazon Bedrock and Google Cloud account setup is not supported: configure an OpenAI-compatible provider"
)

#: method → why this server does not offer it.
NOT_OFFERED: dict[str, str] = {
    **dict.fromkeys(
        [
            "plugin/reconcile",
            "plugin/skill/read",
            "plugin/search",
            "plugin/share/save",
            "plugin/share/updateTargets",
            "plugin/share/list",
            "plugin/share/checkout",
            "plugin/share/delete",
        ],
        _REMOTE_PLUGINS,
    ),
    **dict.fromkeys(["app/read", "app/list", "app/installed"], _APPS),
    **dict.fromkeys(
        [
            "account/gatewayOAuth/read",
            "account/gatewayOAuth/login",
            "account/gatewayOAuth/cancel",
            "account/securitySetup/read",
            "account/rateLimitResetCredit/consume",
            "account/workspaceMessages/read",
            "account/sendAddCreditsNudgeEmail",
            "accountSession/list",
            "accountSession/switch",
        ],
        _CHATGPT_ACCOUNT,
    ),
    **dict.fromkeys(
        [
            "remoteControl/enable",
            "remoteControl/disable",
            "remoteControl/status/read",
            "remoteControl/pairing/start",
            "remoteControl/pairing/status",
            "remoteControl/client/list",
            "remoteControl/client/revoke",
        ],
        _REMOTE_CONTROL,
    ),
    **dict.fromkeys(
        [
            "userVerification/status",
            "userVerification/enroll",
            "userVerification/delete",
            "userVerification/verify",
            "userVerification/cancel",
        ],
        _USER_VERIFICATION,
    ),
    **dict.fromkeys(["windowsSandbox/setupStart", "windowsSandbox/readiness"], _WINDOWS_SANDBOX),
    **dict.fromkeys(
        [
            "thread/realtime/start",
            "thread/realtime/appendAudio",
            "thread/realtime/appendText",
            "thread/realtime/appendSpeech",
            "thread/realtime/stop",
            "thread/realtime/listVoices",
        ],
        _REALTIME,
    ),
    **dict.fromkeys(["feedback/upload", "feedback/save"], _FEEDBACK),
    **dict.fromkeys(
        [
            "account/bedrock/discover",
            "account/bedrock/setup",
            "account/bedrock/checkGovCloudRequirements",
            "account/gcp/setup",
        ],
        _CLOUD_ACCOUNTS,
    ),
}


def not_offered_reason(method: str) -> str | None:
    return NOT_OFFERED.get(method)
