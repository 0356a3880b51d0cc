"""Row screening: the rows of one table still in play, and the row checks every table shares.

A check hands `TableScreen.reject` a mask over all rows; strict mode raises the check's message at
the first one that finds a row, lenient mode sets the rows aside under their first problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.errors import EXAMPLE_ROWS, ContractError, RowPlaces, show_value
from features.contract.files import TableHeader
from features.contract.parsing import (
    ParsedTimestamps,
    as_mask,
    as_text,
    parse_booleans,
    parse_integers,
    parse_numbers,
    parse_timestamps,
    plain_values,
    utc_array,
)
from partner_churn.config import ColumnType


class TableScreen:
    """The rows of one table still in play.

    Strict mode raises at the first rejected row set; lenient mode sets the rows aside (first problem
    wins) and keeps going. Checks always pass masks over all rows; only rows still in play count.
    """

    def __init__(self, path: Path, table: str, raw: pa.Table, header: TableHeader, *, lenient: bool, places: RowPlaces | None = None) -> None:
        self.path = path
        self.table = table
        self.raw = raw
        self.header = header
        self.lenient = lenient
        self.places = places or RowPlaces()
        """How a message names a row (its part file's, for a partitioned table read whole)."""
        self.alive = np.ones(raw.num_rows, dtype=bool)
        self.rejected: list[tuple[np.ndarray, str]] = []

    def reject(
        self,
        column: str,
        problem: str,
        bad: np.ndarray,
        *,
        text: str | None = None,
        detail: Callable[[np.ndarray], str] | None = None,
        show: Callable[[np.ndarray], list[str]] | None = None,
    ) -> None:
        """Take the rows in `bad` (and still in play) out, under `problem`; strict mode raises instead.

        `text` is the problem as the message says it (default `problem`), `detail` adds a parenthesis
        about all offending rows, `show` renders the example rows (default: their raw values).
        """
        rows = np.flatnonzero(bad & self.alive)
        if rows.size == 0:
            return
        if not self.lenient:
            examples = rows[:EXAMPLE_ROWS]
            values = show(examples) if show is not None else self.values(column, examples)
            shown = ", ".join(f"{self.places.name(int(row))} ({value})" for row, value in zip(examples, values))
            extra = f" ({detail(rows)})" if detail is not None else ""
            noun = "row" if rows.size == 1 else "rows"
            raise ContractError(
                f"{self.path}: column {self.header.label(column)}: {text or problem} in {rows.size} {noun}{extra}, e.g. {shown}",
                path=self.path,
                column=column,
                file_column=self.header.file_column(column),
                problem=problem,
                rows=tuple(int(row) + 1 for row in examples),
                count=int(rows.size),
            )
        self.rejected.append((rows, problem))
        self.alive[rows] = False

    def values(self, column: str, rows: np.ndarray) -> list[str]:
        """Raw values of `column` at `rows`, as the user wrote them."""
        return [show_value(value) for value in self.raw.column(column).take(pa.array(rows)).to_pylist()]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rows, problem in self.rejected:
            counts[problem] = counts.get(problem, 0) + int(rows.size)
        return counts


def reject_timestamps(screen: TableScreen, column: str, parsed: ParsedTimestamps, *, required: bool, label: str = "") -> None:
    """Missing (when required), unparseable, then naive values in a column where others carry a zone."""
    prefix = f"{label} " if label else ""
    if required:
        screen.reject(column, f"{prefix}missing timestamp", parsed.missing, text="missing timestamp")
    screen.reject(
        column,
        f"{prefix}unparseable timestamp",
        parsed.bad,
        text="unparseable timestamp",
        detail=lambda rows: "expected ISO 8601 like 2025-03-01, 2025-03-01 14:05 or 2025-03-01T14:05:00+02:00, years 1680-2261",
    )
    aware = int(np.count_nonzero(parsed.aware & screen.alive))
    if aware:
        screen.reject(
            column,
            f"{prefix}mixed time zones",
            parsed.naive,
            text="mixed time zones",
            detail=lambda rows: f"these have no zone or offset while {aware} {'row has' if aware == 1 else 'rows have'} one",
        )


def reject_declared(screen: TableScreen, raw: pa.Table, declared: Mapping[str, ColumnType], *, large: bool) -> dict[str, object]:
    """Cast each declared column present (in file order), rejecting values that do not cast.

    Returns the cast columns by name; a declared column absent from the file is simply not there.
    """
    converted: dict[str, object] = {}
    for name in raw.column_names:
        if name not in declared:
            continue
        kind, column = declared[name], raw.column(name)
        if kind == "timestamp":
            parsed = parse_timestamps(column)
            reject_timestamps(screen, name, parsed, required=False, label=name)
            converted[name] = utc_array(parsed.ns)
        elif kind == "float":
            numbers = parse_numbers(column)
            screen.reject(name, f"{name} not a float", numbers.bad, text="not a number")
            converted[name] = numbers.values
        elif kind == "integer":
            values, missing, bad = parse_integers(column)
            screen.reject(name, f"{name} not an integer", bad, text="not an integer")
            converted[name] = pd.arrays.IntegerArray(values, missing | bad)
        elif kind == "boolean":
            values, missing, bad = parse_booleans(column)
            screen.reject(
                name,
                f"{name} not a boolean",
                bad,
                text="not a boolean",
                detail=lambda rows: "expected true/false, yes/no or 1/0",
            )
            converted[name] = pd.arrays.BooleanArray(values, missing | bad)
        else:
            text = as_text(column)
            converted[name] = pd.arrays.ArrowStringArray(text) if large else text.to_numpy(zero_copy_only=False).astype(object)
    return converted


def repeated_rows(values: pa.ChunkedArray, among: np.ndarray) -> np.ndarray:
    """Rows in `among` whose non-null value already occurred in an earlier row in `among`.

    A stable sort puts equal values next to each other in row order, so every member of a run but
    its first is a repeat. Sorting needs a few bytes a row where hashing tens of millions of distinct
    ids (the usual event_id) would need over a hundred.
    """
    repeated = np.zeros(len(values), dtype=bool)
    rows = np.flatnonzero(among)
    if rows.size < 2:
        return repeated
    subset = plain_values(values if rows.size == len(values) else values.take(pa.array(rows)))
    if pa.types.is_integer(subset.type) and not subset.null_count:
        numbers = subset.to_numpy()
        if (numbers[1:] > numbers[:-1]).all():  # ids that only grow (as most exports number their events): none repeats
            return repeated
        order = np.argsort(numbers, kind="stable")
        ordered_numbers = numbers[order]
        same_as_previous = ordered_numbers[1:] == ordered_numbers[:-1]
    else:
        order = pc.sort_indices(subset).to_numpy()
        ordered = subset.take(order)
        same_as_previous = as_mask(pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1)))
    later = order[1:][same_as_previous]
    repeated[rows[later]] = True
    return repeated


def show_repeats(screen: TableScreen, values: pa.ChunkedArray, rows: np.ndarray) -> list[str]:
    """Each repeated value with the row of its first (kept) occurrence."""
    values = plain_values(values)
    shown = []
    for row in rows:
        value = values[int(row)]
        first = int(np.flatnonzero(as_mask(pc.equal(values, value)) & screen.alive)[0])
        shown.append(f"{show_value(value.as_py())}, first in {screen.places.name(first)}")
    return shown
