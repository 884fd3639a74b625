"""The sources leadlink lands, named once: every list of sources (CLI choices, the scheduled run,
landing tables) is read from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["knowlarity", "meta"]


@dataclass(frozen=True)
class SourceSpec:
    name: Source
    raw_table: str          # where its records land (in LEADLINK_RAW_SCHEMA)
    key_column: str         # that table's natural key
    pull_settings: tuple[str, ...]  # env vars an API pull needs (unset: the pull is skipped)
    webhook_setting: str    # env var without which its webhook refuses every delivery


SPECS: dict[Source, SourceSpec] = {
    "knowlarity": SourceSpec("knowlarity", "knowlarity_calls", "call_uuid",
                             ("KNOWLARITY_API_KEY", "KNOWLARITY_AUTH_TOKEN"),
                             "KNOWLARITY_WEBHOOK_TOKEN"),
    "meta": SourceSpec("meta", "meta_leads", "lead_id",
                       ("META_PAGE_ID", "META_PAGE_ACCESS_TOKEN"), "META_APP_SECRET"),
}
SOURCES: tuple[Source, ...] = tuple(SPECS)


def spec(source: str) -> SourceSpec:
    try:
        return SPECS[source]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"unknown source {source!r} (one of {', '.join(SOURCES)})") from None
