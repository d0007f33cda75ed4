"""Account methods: who is logged in, logging in and out, and the rate limits seen.

Owns: the wire types of ``account/read``, ``account/login/start`` (every ``type``),
``account/login/cancel``, ``account/logout``, ``account/rateLimits/read`` and the
``account/login/completed`` / ``account/updated`` notifications. The token-refresh server request
(``account/chatgptAuthTokens/refresh``) lives in :mod:`.server_requests`.
Imports ``_base``, ``common``, ``notifications`` and ``registry`` (it registers its notifications).
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import ConfigDict, Field, RootModel
from typing_extensions import TypeAliasType

from . import registry
from ._base import WireModel
from .common import Int64
from .notifications import PlanType, RateLimitSnapshot

# ---------------------------------------------------------------------- account/read


class ApiKeyAccount(WireModel):
    type: Literal["apiKey"] = "apiKey"


class ChatgptAccount(WireModel):
    type: Literal["chatgpt"] = "chatgpt"
    email: str | None
    plan_type: PlanType
    workspace_name: str | None = None


class AmazonBedrockAccount(WireModel):
    type: Literal["amazonBedrock"] = "amazonBedrock"
    uses_codex_managed_credentials: bool = False


class GcpAccount(WireModel):
    """Google Cloud Vertex AI with externally managed credentials."""

    type: Literal["gcp"] = "gcp"


Account = TypeAliasType(
    "Account",
    Annotated[
        ApiKeyAccount | ChatgptAccount | AmazonBedrockAccount | GcpAccount,
        Field(discriminator="type"),
    ],
)

AccountRoutingOverride = TypeAliasType("AccountRoutingOverride", Literal["NO_CONSTRAINT", "us", "us_cr"])


class GetAccountParams(WireModel):
    """``refreshToken``: refresh Codex-managed ChatGPT tokens before answering."""

    refresh_token: bool = False


class GetAccountResponse(WireModel):
    account: Account | None = None
    requires_openai_auth: bool
    user_id: str | None = None


# ---------------------------------------------------------------------- account/login/start

LoginAppBrand = TypeAliasType("LoginAppBrand", Literal["codex", "chatgpt"])


class ApiKeyLoginAccountParams(WireModel):
    type: Literal["apiKey"] = "apiKey"
    api_key: str


class ChatgptLoginAccountParams(WireModel):
    """The browser OAuth flow (PKCE, local callback server)."""

    type: Literal["chatgpt"] = "chatgpt"
    app_brand: LoginAppBrand | None = None
    codex_streamlined_login: bool = False
    use_hosted_login_success_page: bool = False


class ChatgptDeviceCodeLoginAccountParams(WireModel):
    type: Literal["chatgptDeviceCode"] = "chatgptDeviceCode"


class ChatgptAuthTokensLoginAccountParams(WireModel):
    """Tokens owned by the host application; kept in memory only, refreshed by the host."""

    type: Literal["chatgptAuthTokens"] = "chatgptAuthTokens"
    access_token: str
    chatgpt_account_id: str
    chatgpt_plan_type: str | None = None


class AmazonBedrockLoginAccountParams(WireModel):
    type: Literal["amazonBedrock"] = "amazonBedrock"
    api_key: str
    region: str


class AmazonBedrockAccessKeysLoginAccountParams(WireModel):
    type: Literal["amazonBedrockAccessKeys"] = "amazonBedrockAccessKeys"
    access_key_id: str
    region: str
    secret_access_key: str
    session_token: str | None = None


# Plain ``Annotated`` (no TypeAliasType): the root models below are the named types.
_LoginAccountParamsUnion: TypeAlias = Annotated[
    ApiKeyLoginAccountParams
    | ChatgptLoginAccountParams
    | ChatgptDeviceCodeLoginAccountParams
    | ChatgptAuthTokensLoginAccountParams
    | AmazonBedrockLoginAccountParams
    | AmazonBedrockAccessKeysLoginAccountParams,
    Field(discriminator="type"),
]


class ApiKeyLoginAccountResponse(WireModel):
    type: Literal["apiKey"] = "apiKey"


class ChatgptLoginAccountResponse(WireModel):
    """``authUrl``: the page the client opens in a browser to sign in."""

    type: Literal["chatgpt"] = "chatgpt"
    auth_url: str
    login_id: str


class ChatgptDeviceCodeLoginAccountResponse(WireModel):
    """The user opens ``verificationUrl`` and enters ``userCode``."""

    type: Literal["chatgptDeviceCode"] = "chatgptDeviceCode"
    login_id: str
    user_code: str
    verification_url: str


class ChatgptAuthTokensLoginAccountResponse(WireModel):
    type: Literal["chatgptAuthTokens"] = "chatgptAuthTokens"


class AmazonBedrockLoginAccountResponse(WireModel):
    type: Literal["amazonBedrock"] = "amazonBedrock"


_LoginAccountResponseUnion: TypeAlias = Annotated[
    ApiKeyLoginAccountResponse
    | ChatgptLoginAccountResponse
    | ChatgptDeviceCodeLoginAccountResponse
    | ChatgptAuthTokensLoginAccountResponse
    | AmazonBedrockLoginAccountResponse,
    Field(discriminator="type"),
]


class LoginAccountParams(RootModel[_LoginAccountParamsUnion]):
    """One of the login kinds, by ``type``; the params object is the variant itself."""

    model_config = ConfigDict(strict=True, defer_build=True)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = self.root.to_wire()
        return wire


class LoginAccountResponse(RootModel[_LoginAccountResponseUnion]):
    model_config = ConfigDict(strict=True, defer_build=True)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = self.root.to_wire()
        return wire


# ---------------------------------------------------------------------- cancel, logout

CancelLoginAccountStatus = TypeAliasType("CancelLoginAccountStatus", Literal["canceled", "notFound"])


class CancelLoginAccountParams(WireModel):
    login_id: str


class CancelLoginAccountResponse(WireModel):
    status: CancelLoginAccountStatus


class LogoutAccountResponse(WireModel):
    """Empty; every client also gets ``account/updated``."""


# ---------------------------------------------------------------------- rate limits


class GetAccountRateLimitsParams(WireModel):
    exclude_reset_credit_details: bool = False
    supports_luna_reserve: bool = False


RateLimitResetCreditStatus = TypeAliasType(
    "RateLimitResetCreditStatus", Literal["available", "redeeming", "redeemed", "unknown"]
)
RateLimitResetType = TypeAliasType("RateLimitResetType", Literal["codexRateLimits", "unknown"])


class RateLimitResetCredit(WireModel):
    id: str
    granted_at: Int64
    reset_type: RateLimitResetType
    status: RateLimitResetCreditStatus
    description: str | None = None
    expires_at: Int64 | None = None
    title: str | None = None


class RateLimitResetCreditsSummary(WireModel):
    available_count: Int64
    credits: list[RateLimitResetCredit] | None = None


class GetAccountRateLimitsResponse(WireModel):
    """``rateLimits``: the single-bucket view; ``rateLimitsByLimitId``: every bucket seen."""

    rate_limits: RateLimitSnapshot
    rate_limits_by_limit_id: dict[str, RateLimitSnapshot] | None = None
    account_id: str | None = None
    ordinary_usage_allowed: bool | None = None
    rate_limit_reset_credits: RateLimitResetCreditsSummary | None = None
    # The backend's own banner object, passed through untouched (snake_case inside).
    rate_limit_upsell: Any = None


# ---------------------------------------------------------------------- notifications

DesktopOnboardingEntrypoint = TypeAliasType("DesktopOnboardingEntrypoint", Literal["life_sciences"])
AuthMode = TypeAliasType(
    "AuthMode",
    Literal[
        "apikey",
        "chatgpt",
        "chatgptAuthTokens",
        "headers",
        "agentIdentity",
        "personalAccessToken",
        "bedrockApiKey",
        "bedrockAccessKeys",
    ],
)


class AccountLoginCompletedNotification(WireModel):
    """A login started with ``account/login/start`` ended (``loginId`` null for API keys)."""

    success: bool
    login_id: str | None = None
    error: str | None = None
    onboarding_entrypoint: DesktopOnboardingEntrypoint | None = None


class AccountUpdatedNotification(WireModel):
    """The active credentials changed (``authMode`` null: logged out)."""

    auth_mode: AuthMode | None = None
    plan_type: PlanType | None = None


registry.notification("account/login/completed", AccountLoginCompletedNotification)
registry.notification("account/updated", AccountUpdatedNotification)

#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "Account",
    "AccountLoginCompletedNotification",
    "AccountUpdatedNotification",
    "AmazonBedrockAccessKeysLoginAccountParams",
    "AmazonBedrockAccount",
    "AmazonBedrockLoginAccountParams",
    "AmazonBedrockLoginAccountResponse",
    "ApiKeyAccount",
    "ApiKeyLoginAccountParams",
    "ApiKeyLoginAccountResponse",
    "AuthMode",
    "CancelLoginAccountParams",
    "CancelLoginAccountResponse",
    "CancelLoginAccountStatus",
    "ChatgptAccount",
    "ChatgptAuthTokensLoginAccountParams",
    "ChatgptAuthTokensLoginAccountResponse",
    "ChatgptDeviceCodeLoginAccountParams",
    "ChatgptDeviceCodeLoginAccountResponse",
    "ChatgptLoginAccountParams",
    "ChatgptLoginAccountResponse",
    "DesktopOnboardingEntrypoint",
    "GcpAccount",
    "GetAccountParams",
    "GetAccountRateLimitsParams",
    "GetAccountRateLimitsResponse",
    "GetAccountResponse",
    "LoginAccountParams",
    "LoginAccountResponse",
    "LoginAppBrand",
    "LogoutAccountResponse",
    "RateLimitResetCredit",
    "RateLimitResetCreditStatus",
    "RateLimitResetCreditsSummary",
    "RateLimitResetType",
]
