"""`leadlink load file`: land JSON / JSON Lines files exactly as the APIs and webhooks deliver them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loaders.database import connection
from loaders.landing import LandingCounts, finish_batch, land_items, start_batch
from loaders.settings import Settings
from loaders.shapes import Item, Rejected, Source, parse_text

log = logging.getLogger("leadlink.file_loader")


@dataclass(frozen=True)
class FileResult:
    path: Path
    counts: LandingCounts


def read_items(source: Source, path: Path) -> Iterator[Item]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        yield Rejected(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})",
                       raw.decode("utf-8", "replace"))
        return
    yield from parse_text(source, text)


def load_files(settings: Settings, url: str, source: Source, paths: list[Path]) -> list[FileResult]:
    """Land every file in one load batch, committing chunk by chunk."""
    results: list[FileResult] = []
    with connection(url, "leadlink-load-file") as conn:
        with conn.cursor() as cursor:
            batch_id = start_batch(cursor, settings, source, "file",
                                   {"files": [str(path) for path in paths]})
        conn.commit()
        total = LandingCounts()
        try:
            for path in paths:
                counts = land_items(conn, settings, source, read_items(source, path), batch_id,
                                    f"file:{path.name}")
                log.info("%s: %s", path, counts.as_dict())
                results.append(FileResult(path, counts))
                total.add(counts)
        except BaseException:
            conn.rollback()
            with conn.cursor() as cursor:
                finish_batch(cursor, settings, batch_id, total, "failed")
            conn.commit()
            raise
        with conn.cursor() as cursor:
            finish_batch(cursor, settings, batch_id, total, "succeeded")
    return results
