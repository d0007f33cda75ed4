"""The throw-away PostgreSQL cluster of a test session (``agent_app_server.testing.pg_cluster``).

Started on first use by the ``pg_cluster`` fixture, stopped when the session ends; every test
that asks for ``pg_url`` gets a fresh empty database in it. Without the server binaries the tests
that need it are skipped with a message saying how to install them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_app_server.testing.pg_cluster import PostgresUnavailable, TempCluster, find_bin_dir


def cluster_fixture() -> Iterator[TempCluster]:
    try:
        bin_dir = find_bin_dir()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with TempCluster(bin_dir) as cluster:
        yield cluster
