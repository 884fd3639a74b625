"""Reading a CRM export's CSV row by row for `leadlink load legacy` (the forgiving path, taken when
PostgreSQL's own CSV parser refuses the file).

Nothing here pads, cuts or silently changes a row: a row with more or fewer fields than the
header, a NUL byte, or bytes that are not UTF-8 is passed on with the problem, and the loader
quarantines it with that reason.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

# Python's csv refuses a cell over 128 KiB (the limit is process-wide): raise it so a huge cell is
# read, and quarantined by the checks, instead of aborting the whole export.
MAX_CELL_CHARS = 256 * 1024 * 1024

# NUL cannot pass through Python's csv module (it raises) nor PostgreSQL: each is replaced by this
# noncharacter while reading, so the row can be named and quarantined.
NUL_STAND_IN = "\ufffe"


class LegacyLoadError(RuntimeError):
    pass


class CsvStream(io.TextIOBase):
    """A file-like object that yields CSV text row by row, so 1M rows never sit in memory."""

    def __init__(self, rows: Iterator[list[str | None]]) -> None:
        self._rows = rows
        self._buffer = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        while size < 0 or len(self._buffer) < size:
            try:
                row = next(self._rows)
            except StopIteration:
                break
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerow(row)
            self._buffer += out.getvalue()
        if size < 0:
            chunk, self._buffer = self._buffer, ""
        else:
            chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk


def _without_nul(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        yield line.replace("\x00", NUL_STAND_IN) if "\x00" in line else line


def file_header(path: Path) -> list[str]:
    """The header row's column names, stripped and lower-cased."""
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        return [name.strip().lower() for name in next(csv.reader(_without_nul(handle)), [])]


def check_header(path: Path, required: list[str], table: str) -> None:
    """Fail before anything is written when a file cannot be an export of `table`."""
    header = file_header(path)
    problem = _row_problem(header, len(header))
    if problem:
        raise LegacyLoadError(f"{path}: header: {problem.removeprefix('the row ')}")
    missing_required = [name for name in required if name not in header]
    if missing_required:
        raise LegacyLoadError(
            f"{path}: header lacks required column(s) {', '.join(missing_required)} of {table}"
        )


def _row_problem(row: list[str], width: int) -> str | None:
    if len(row) != width:
        return f"the row has {len(row)} fields, the header {width}"
    text = "".join(row)
    if NUL_STAND_IN in text:
        return "the row holds a NUL byte, which PostgreSQL cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "the row holds bytes that are not UTF-8"
    return None


def _visible(cell: str) -> str:
    return (cell.replace(NUL_STAND_IN, "\\u0000").encode("utf-8", "surrogateescape")
            .decode("utf-8", "backslashreplace"))


def export_rows(path: Path, columns: list[str]) -> Iterator[list[str | None]]:
    """[line number, problem or '', original row as JSON, *the known columns' cells] per data row
    (blank rows skipped). A row with a problem carries no cells."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.reader(_without_nul(handle))
        try:
            header = [name.strip().lower() for name in next(reader)]
        except StopIteration:
            return
        positions = {name: header.index(name) for name in columns if name in header}
        line_number = 1
        for row in reader:
            line_number += 1
            if not any(cell.strip() for cell in row):
                continue
            problem = _row_problem(row, len(header))
            if problem:
                cells = [_visible(cell) for cell in row]
                original = json.dumps(dict(zip(header, cells, strict=False))
                                      if len(cells) <= len(header) else cells, ensure_ascii=False)
                yield [str(line_number), problem, original, *([""] * len(columns))]
                continue
            values = [row[positions[name]] if name in positions else "" for name in columns]
            original = json.dumps(dict(zip(header, row, strict=False)), ensure_ascii=False)
            yield [str(line_number), "", original, *values]
