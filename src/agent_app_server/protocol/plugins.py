"""Plugins and plugin marketplaces: ``marketplace/add|remove|upgrade`` and
``plugin/list|installed|read|install|uninstall``.

Owns: the wire types of those methods (the reference's, field for field; the fields that only a
remote catalog fills — remote ids, share context, app templates — are typed and sent as null or
empty). Imports ``_base`` and ``skills``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

from ._base import WireModel
from .common import Int64, UInt
from .skills import HookEventName, SkillInterface

# ---------------------------------------------------------------------- marketplaces


class MarketplaceAddParams(WireModel):
    """``source``: a local directory, a git URL (``https://``, ``ssh://``, ``git@host:path``) or
    GitHub ``owner/repo``, optionally with ``#ref`` / ``@ref``."""

    source: str
    ref_name: str | None = None
    sparse_paths: list[str] | None = None


class MarketplaceAddResponse(WireModel):
    marketplace_name: str
    installed_root: str
    already_added: bool


class MarketplaceRemoveParams(WireModel):
    marketplace_name: str


class MarketplaceRemoveResponse(WireModel):
    marketplace_name: str
    #: The git checkout that was deleted; null for a local directory (left as it was).
    installed_root: str | None = None


class MarketplaceUpgradeParams(WireModel):
    #: One configured git marketplace; null: every one.
    marketplace_name: str | None = None


class MarketplaceUpgradeErrorInfo(WireModel):
    marketplace_name: str
    message: str


class MarketplaceUpgradeResponse(WireModel):
    selected_marketplaces: list[str]
    upgraded_roots: list[str]
    errors: list[MarketplaceUpgradeErrorInfo]


# ---------------------------------------------------------------------- plugin summaries

PluginAuthPolicy = TypeAliasType("PluginAuthPolicy", Literal["ON_INSTALL", "ON_USE"])
PluginInstallPolicy = TypeAliasType(
    "PluginInstallPolicy", Literal["NOT_AVAILABLE", "AVAILABLE", "INSTALLED_BY_DEFAULT"]
)
PluginInstallPolicySource = TypeAliasType(
    "PluginInstallPolicySource", Literal["WORKSPACE_SETTING", "IMPLICIT_CANONICAL_APP"]
)
PluginAvailability = TypeAliasType("PluginAvailability", Literal["DISABLED_BY_ADMIN", "AVAILABLE"])
PluginDisabledReason = TypeAliasType(
    "PluginDisabledReason", Literal["disabled_by_admin", "plan_not_eligible", "required_app_unavailable", "unknown"]
)
PluginListMarketplaceKind = TypeAliasType(
    "PluginListMarketplaceKind",
    Literal["local", "vertical", "workspace-directory", "shared-with-me", "created-by-me-remote"],
)
PluginShareDiscoverability = TypeAliasType("PluginShareDiscoverability", Literal["LISTED", "UNLISTED", "PRIVATE"])
PluginSharePrincipalRole = TypeAliasType("PluginSharePrincipalRole", Literal["reader", "editor", "owner"])
PluginSharePrincipalType = TypeAliasType("PluginSharePrincipalType", Literal["user", "group", "workspace"])


class LocalPluginSource(WireModel):
    type: Literal["local"] = "local"
    path: str


class GitPluginSource(WireModel):
    type: Literal["git"] = "git"
    url: str
    path: str | None = None
    ref_name: str | None = None
    sha: str | None = None


class NpmPluginSource(WireModel):
    type: Literal["npm"] = "npm"
    package: str
    registry: str | None = None
    version: str | None = None


class RemotePluginSource(WireModel):
    type: Literal["remote"] = "remote"


PluginSource = TypeAliasType(
    "PluginSource",
    Annotated[
        LocalPluginSource | GitPluginSource | NpmPluginSource | RemotePluginSource,
        Field(discriminator="type"),
    ],
)


class PluginInterface(WireModel):
    """What a plugin's manifest says about how to present it; asset paths resolved absolute."""

    capabilities: list[str]
    screenshot_urls: list[str]
    screenshots: list[str]
    display_name: str | None = None
    short_description: str | None = None
    long_description: str | None = None
    developer_name: str | None = None
    category: str | None = None
    website_url: str | None = None
    privacy_policy_url: str | None = None
    terms_of_service_url: str | None = None
    default_prompt: list[str] | None = None
    brand_color: str | None = None
    composer_icon: str | None = None
    composer_icon_url: str | None = None
    logo: str | None = None
    logo_dark: str | None = None
    logo_url: str | None = None
    logo_url_dark: str | None = None


class PluginSharePrincipal(WireModel):
    name: str
    principal_id: str
    principal_type: PluginSharePrincipalType
    role: PluginSharePrincipalRole


class PluginShareContext(WireModel):
    """Only plugins shared through OpenAI's catalog have one; never sent by this server."""

    remote_plugin_id: str
    can_publish_to_workspace: bool | None = None
    creator_account_user_id: str | None = None
    creator_name: str | None = None
    discoverability: PluginShareDiscoverability | None = None
    remote_version: str | None = None
    share_principals: list[PluginSharePrincipal] | None = None
    share_url: str | None = None


class PluginSummary(WireModel):
    id: str
    name: str
    source: PluginSource
    installed: bool
    enabled: bool
    install_policy: PluginInstallPolicy
    auth_policy: PluginAuthPolicy
    remote_plugin_id: str | None = None
    version: str | None = None
    local_version: str | None = None
    share_context: PluginShareContext | None = None
    installed_at: Int64 | None = None
    install_policy_source: PluginInstallPolicySource | None = None
    must_show_installation_interstitial: bool | None = None
    availability: PluginAvailability = "AVAILABLE"
    disabled_reason: PluginDisabledReason | None = None
    eligible_plan_types: list[str] | None = None
    interface: PluginInterface | None = None
    keywords: list[str] = []


class MarketplaceInterface(WireModel):
    display_name: str | None = None


class PluginMarketplaceEntry(WireModel):
    name: str
    #: The marketplace manifest file.
    path: str | None = None
    interface: MarketplaceInterface | None = None
    plugins: list[PluginSummary]


class MarketplaceLoadErrorInfo(WireModel):
    marketplace_path: str
    message: str


# ---------------------------------------------------------------------- list, installed


class PluginListParams(WireModel):
    """``cwds``: also the marketplaces of these folders' repositories."""

    cwds: list[str] | None = None
    force_refetch: bool = False
    marketplace_kinds: list[PluginListMarketplaceKind] | None = None


class PluginListResponse(WireModel):
    marketplaces: list[PluginMarketplaceEntry]
    marketplace_load_errors: list[MarketplaceLoadErrorInfo] = []
    featured_plugin_ids: list[str] = []


class PluginInstalledParams(WireModel):
    cwds: list[str] | None = None
    #: Plugins to list even when not installed (when a marketplace has them).
    install_suggestion_plugin_names: list[str] | None = None


class PluginInstalledResponse(WireModel):
    marketplaces: list[PluginMarketplaceEntry]
    marketplace_load_errors: list[MarketplaceLoadErrorInfo] = []


# ---------------------------------------------------------------------- read


class SkillSummary(WireModel):
    name: str
    description: str
    enabled: bool
    short_description: str | None = None
    interface: SkillInterface | None = None
    path: str | None = None


class PluginHookSummary(WireModel):
    key: str
    event_name: HookEventName


class AppSummary(WireModel):
    """A ChatGPT app a plugin brings; apps are OpenAI's, so this server lists none."""

    id: str
    name: str
    category: str | None = None
    description: str | None = None
    install_url: str | None = None


AppTemplateUnavailableReason = TypeAliasType(
    "AppTemplateUnavailableReason", Literal["NOT_CONFIGURED_FOR_WORKSPACE", "NO_ACTIVE_WORKSPACE"]
)


class AppTemplateSummary(WireModel):
    template_id: str
    name: str
    materialized_app_ids: list[str]
    canonical_connector_id: str | None = None
    category: str | None = None
    description: str | None = None
    logo_url: str | None = None
    logo_url_dark: str | None = None
    reason: AppTemplateUnavailableReason | None = None


ScheduledTaskWeekday = TypeAliasType("ScheduledTaskWeekday", Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"])


class HourlyScheduledTaskSchedule(WireModel):
    type: Literal["hourly"] = "hourly"
    interval_hours: UInt
    days: list[ScheduledTaskWeekday] | None = None


class DailyScheduledTaskSchedule(WireModel):
    type: Literal["daily"] = "daily"
    time: str


class WeekdaysScheduledTaskSchedule(WireModel):
    type: Literal["weekdays"] = "weekdays"
    time: str


class WeeklyScheduledTaskSchedule(WireModel):
    type: Literal["weekly"] = "weekly"
    days: list[ScheduledTaskWeekday]
    time: str


ScheduledTaskSchedule = TypeAliasType(
    "ScheduledTaskSchedule",
    Annotated[
        HourlyScheduledTaskSchedule
        | DailyScheduledTaskSchedule
        | WeekdaysScheduledTaskSchedule
        | WeeklyScheduledTaskSchedule,
        Field(discriminator="type"),
    ],
)


class ScheduledTaskSummary(WireModel):
    key: str
    name: str
    prompt: str
    schedule: ScheduledTaskSchedule


class PluginDetail(WireModel):
    marketplace_name: str
    marketplace_path: str | None = None
    summary: PluginSummary
    description: str | None = None
    share_url: str | None = None
    skills: list[SkillSummary]
    onboarding_skill: SkillSummary | None = None
    hooks: list[PluginHookSummary]
    apps: list[AppSummary]
    app_templates: list[AppTemplateSummary]
    mcp_servers: list[str]
    scheduled_tasks: list[ScheduledTaskSummary] | None = None


class PluginReadParams(WireModel):
    """Exactly one of ``marketplacePath`` (a marketplace manifest) and ``remoteMarketplaceName``."""

    plugin_name: str
    marketplace_path: str | None = None
    remote_marketplace_name: str | None = None


class PluginReadResponse(WireModel):
    plugin: PluginDetail


# ---------------------------------------------------------------------- install, uninstall


class PluginInstallParams(WireModel):
    plugin_name: str
    marketplace_path: str | None = None
    remote_marketplace_name: str | None = None
    #: Client-generated identifier correlating one installation attempt.
    install_attempt_id: str | None = None


class PluginInstallResponse(WireModel):
    auth_policy: PluginAuthPolicy
    apps_needing_auth: list[AppSummary]


class PluginUninstallParams(WireModel):
    #: ``plugin@marketplace``.
    plugin_id: str


class PluginUninstallResponse(WireModel):
    pass


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "AppSummary",
    "AppTemplateSummary",
    "AppTemplateUnavailableReason",
    "DailyScheduledTaskSchedule",
    "GitPluginSource",
    "HourlyScheduledTaskSchedule",
    "LocalPluginSource",
    "MarketplaceAddParams",
    "MarketplaceAddResponse",
    "MarketplaceInterface",
    "MarketplaceLoadErrorInfo",
    "MarketplaceRemoveParams",
    "MarketplaceRemoveResponse",
    "MarketplaceUpgradeErrorInfo",
    "MarketplaceUpgradeParams",
    "MarketplaceUpgradeResponse",
    "NpmPluginSource",
    "PluginAuthPolicy",
    "PluginAvailability",
    "PluginDetail",
    "PluginDisabledReason",
    "PluginHookSummary",
    "PluginInstallParams",
    "PluginInstallPolicy",
    "PluginInstallPolicySource",
    "PluginInstallResponse",
    "PluginInstalledParams",
    "PluginInstalledResponse",
    "PluginInterface",
    "PluginListMarketplaceKind",
    "PluginListParams",
    "PluginListResponse",
    "PluginMarketplaceEntry",
    "PluginReadParams",
    "PluginReadResponse",
    "PluginShareContext",
    "PluginShareDiscoverability",
    "PluginSharePrincipal",
    "PluginSharePrincipalRole",
    "PluginSharePrincipalType",
    "PluginSource",
    "PluginSummary",
    "PluginUninstallParams",
    "PluginUninstallResponse",
    "RemotePluginSource",
    "ScheduledTaskSchedule",
    "ScheduledTaskSummary",
    "ScheduledTaskWeekday",
    "SkillSummary",
    "WeekdaysScheduledTaskSchedule",
    "WeeklyScheduledTaskSchedule",
]
