"""The approval gateway: a long-running client that observes app servers and answers their
approval requests by a policy file, escalating to a change-management service where the policy
says so, with an audit log of every request (docs/approval-gateway.md).

Modules: ``requests`` (an approval as the policy sees it, and the answers), ``policy`` (the TOML
policy and its matchers), ``store`` (the SQLite audit log and escalations in flight),
``escalation`` (webhook, HMAC-signed callbacks, polling, timeouts), ``service`` (the gateway).
Layer: gateway (imports only ``protocol``, ``transport``, ``rpc`` and ``client``, so it works
against any app server that offers observer connections).
"""
