"""The worker's Graph lookup: `GraphClient.get_lead` from the Meta loader, with a short in-call
retry budget (the queue's own backoff covers long outages, so one stuck lead never holds the
worker for minutes)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from loaders.http import RetryPolicy
from loaders.settings import Settings

DEFAULT_BACKOFF_CAP = 5.0


def lead_fetcher(settings: Settings, **client_kwargs: Any) -> Callable[[str], Mapping[str, Any]]:
    from loaders.meta.client import GraphClient, GraphConfig

    policy = RetryPolicy.from_settings(settings.http)
    if not settings.http.max_attempts_set:
        policy = dataclasses.replace(
            policy,
            max_attempts=settings.webhooks.graph_attempts,
            backoff_cap=min(policy.backoff_cap, DEFAULT_BACKOFF_CAP),
            max_server_wait=min(policy.max_server_wait, 60.0),
        )
    client = GraphClient(GraphConfig.from_settings(settings), policy, **client_kwargs)
    return client.get_lead
