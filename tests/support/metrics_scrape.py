"""Reading our server's Prometheus ``/metrics``: where a stdio server's listener bound, and the
samples of a scrape."""

from __future__ import annotations

import asyncio
import re

from prometheus_client.parser import text_string_to_metric_families

from support.server_process import ServerProcess

METRICS_BANNER = re.compile(rb"metrics on http://([0-9.]+):(\d+)/metrics")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(body: bytes) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the series does not exist yet (nothing counted)."""
    return samples.get((f"agent_app_server_{name}", frozenset(labels.items())), 0.0)


async def metrics_address(server: ServerProcess) -> tuple[str, int]:
    """Where the stdio server's metrics listener bound (its stderr says, once it listens: after
    the fast start answered ``initialize``)."""
    assert server.proc is not None and server.proc.stderr is not None
    async with asyncio.timeout(30):
        while line := await server.proc.stderr.readline():
            if match := METRICS_BANNER.search(line):
                return match.group(1).decode(), int(match.group(2))
    raise AssertionError("the server exited without listening for metrics")
