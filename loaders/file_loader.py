"""`leadlink load file`: land JSON / JSON Lines files exactly as the APIs and webhooks deliver them.

A file is read as a stream of lines, so memory stays flat whatever its size, and each line lands or
is quarantined on its own (a line that is not UTF-8, not JSON, or holds a value no model can use
costs only that line). A file whose first line is not a JSON document by itself is one document
spread over lines (a pretty-printed page): that one is read whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loaders.database import connection
from loaders.landing import LandingCounts, land_items, landing_batch
from loaders.payload_checks import JsonProblem, load_json, parse_line, split_safely
from loaders.settings import Settings
from loaders.shapes import Item, Rejected, Source

log = logging.getLogger("leadlink.file_loader")

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class FileResult:
    path: Path
    counts: LandingCounts


def _visible(raw: bytes) -> str:
    """Bytes as storable text: invalid UTF-8 shown as \\x.. escapes, NUL as \\u0000."""
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\u0000")


def _parse_line(source: Source, name: str, number: int, raw: bytes) -> Iterator[Item]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        yield Rejected(f"not UTF-8 text ({name} line {number}: {error.reason} at byte "
                       f"{error.start})", _visible(raw.rstrip(b"\r\n")))
        return
    yield from parse_line(source, number, line)


def _whole_document(source: Source, path: Path) -> list[Item] | None:
    """A document spread over several lines, or None when the file is not one (then it is read
    line by line, each bad line quarantined)."""
    raw = path.read_bytes().removeprefix(BOM)
    try:
        document = load_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, JsonProblem):
        return None
    return list(split_safely(source, document, "<the whole file>"))


def _opens_a_document(raw: bytes) -> bool:
    """Whether a line that is not JSON by itself may open a document spread over lines."""
    return raw.lstrip().startswith((b"{", b"["))


def read_items(source: Source, path: Path) -> Iterator[Item]:
    """The file's records line by line; a first line that opens a document but is not one by
    itself means the file is one document spread over lines (read whole)."""
    with open(path, "rb") as handle:
        first = True
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(BOM)
            if not first or not raw.strip():
                yield from _parse_line(source, path.name, number, raw)
                continue
            first = False
            items = list(_parse_line(source, path.name, number, raw))
            if (len(items) == 1 and isinstance(items[0], Rejected)
                    and items[0].reason.startswith("not valid JSON") and _opens_a_document(raw)):
                whole = _whole_document(source, path)
                if whole is not None:
                    yield from whole
                    return
            yield from items


def load_files(settings: Settings, url: str, source: Source, paths: list[Path]) -> list[FileResult]:
    """Land every file in one load batch, committing chunk by chunk."""
    results: list[FileResult] = []
    with connection(url, "leadlink-load-file") as conn, landing_batch(
            conn, settings, source, "file", {"files": [str(path) for path in paths]},
            url=url) as batch:
        for path in paths:
            counts = land_items(conn, settings, source, read_items(source, path),
                                batch.batch_id, f"file:{path.name}")
            log.info("%s: %s", path, counts.as_dict())
            results.append(FileResult(path, counts))
            batch.counts.add(counts)
    return results
