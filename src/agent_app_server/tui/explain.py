"""Plain words for what went wrong: a turn's ``codexErrorInfo`` → what it means and what to do next.

Owns: the one table of explanations the terminal UI shows under a failed turn or an ``error``
notification. Layer: tui (imports only ``client``; no Textual, so it is testable on its own).
"""

from __future__ import annotations

from typing import Any

from ..client.errors import variant_name

#: codexErrorInfo variant → what happened and what to do next.
EXPLANATIONS: dict[str, str] = {
    "contextWindowExceeded": "The conversation no longer fits in the model's context window. "
    "Run /compact to summarise it, or /new to start a fresh thread.",
    "sessionBudgetExceeded": "This session used up its token budget. Start a new thread with /new.",
    "usageLimitExceeded": "Your plan's usage limit is reached. Wait for it to reset (see /status) "
    "or switch to an API key.",
    "rateLimitExceeded": "The model provider is rate limiting you. Wait a moment, then send the prompt again.",
    "flexUnavailable": "The flex service tier has no capacity now. Try again later or use the default tier.",
    "serverOverloaded": "The model provider is overloaded. Try again in a moment.",
    "modelNotFound": "The provider does not know this model. Pick another one with /model "
    "or fix `model` in config.toml.",
    "policyCapacityUnavailable": "The provider has no capacity for this request under its policy now. Try later.",
    "cyberPolicy": "The provider refused the request under its cyber-security policy. Rephrase the request.",
    "misalignmentPolicyViolation": "The provider stopped the response under its safety policy. Rephrase the request.",
    "tooManyDenials": "Too many actions were declined in a row, so the turn stopped. "
    "Say what you want done differently, or relax /approvals.",
    "internalServerError": "The model provider failed internally. Send the prompt again.",
    # The reference reports a missing key the same way as a refused one.
    "unauthorized": "The provider has no credentials or refused them. Set the API key (the provider's "
    "env_key, e.g. OPENAI_API_KEY) or log in again, or point config.toml at a local model server "
    "(README: Use a local model).",
    "badRequest": "The provider rejected the request as malformed. Check the model and provider settings "
    "in config.toml.",
    "threadRollbackFailed": "Rolling the thread back failed; its history is unchanged. Try again.",
    "sandboxError": "The command sandbox failed. Check that bubblewrap (bwrap) is installed, "
    "or choose another sandbox mode.",
    "other": "The turn failed; the message above says why.",
    "inferenceHookDenied": "A configured hook refused the model call. Check your hooks (config.toml).",
    "httpConnectionFailed": "Could not reach the model provider. Check the network and the provider's "
    "base_url in config.toml.",
    "responseStreamConnectionFailed": "The connection to the model provider failed while streaming. "
    "Send the prompt again.",
    "responseStreamDisconnected": "The model provider dropped the stream before the answer was complete. "
    "Send the prompt again.",
    "responseTooManyFailedAttempts": "The model provider kept failing after every retry. "
    "Check its status and try again later.",
    "activeTurnNotSteerable": "This turn cannot take more input now. Wait for it to finish or press Esc "
    "to interrupt it.",
}


def explain(codex_error_info: Any) -> str | None:
    """What a ``codexErrorInfo`` (a string or a one-key object) means for the user, or None."""
    name = variant_name(codex_error_info)
    if name is None:
        return None
    text = EXPLANATIONS.get(name)
    if text is None:
        return f"The server reported `{name}`."
    details = codex_error_info.get(name) if isinstance(codex_error_info, dict) else None
    status = details.get("httpStatusCode") if isinstance(details, dict) else None
    if status is not None:
        text = f"{text} (HTTP {status})"
    return text
