"""The workload types a scenario may name, one line each, as the load models are one line each in
generator/load/config.py: the type's builder as ``module:function`` (``(name, config, seed) ->
Workload``), imported only when a scenario uses that type (registry.py), so a missing or broken
workload module affects only the runs that need it. Adding a workload type is its module plus
one line here. A leaf: scenario.py reads the names, registry.py the builders."""

from __future__ import annotations

BUILDERS: dict[str, str] = {
    "calls": "generator.workloads.registry:build_calls",
    "http": "generator.workloads.http:build_http",
    "webhooks": "generator.workloads.webhooks:build_webhooks",
    "connections": "generator.workloads.connections:build_connections",
    "call_burst": "generator.workloads.call_burst:build_call_burst",
}
WORKLOAD_TYPES: tuple[str, ...] = tuple(BUILDERS)
# The types that dial WebSockets (their header templates are redacted in snapshots).
WEBSOCKET_TYPES = frozenset({"calls", "connections", "call_burst"})
