"""How the contract reports a problem: `ContractError` and the values its one-line messages show."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partner_churn.errors import InputError

EXAMPLE_ROWS = 5
"""Offending rows shown in a message."""


class ContractError(InputError):
    """Input that breaks the data contract; the message is one line naming file, column, problem and rows."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        column: str | None = None,
        problem: str | None = None,
        rows: tuple[int, ...] = (),
        count: int = 0,
        file_column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.column = column
        """The contract's name of the column."""
        self.file_column = file_column if file_column is not None else column
        """The file's own name of the column (differs from `column` under data.column_map)."""
        self.problem = problem
        self.rows = rows
        """1-based data row numbers of the example rows (at most EXAMPLE_ROWS)."""
        self.count = count
        """Rows with the problem, 0 for file-level problems."""


def show_value(value: object) -> str:
    """One value as it goes into a one-line message."""
    if value is None:
        return "empty"
    if hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = str(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class RowPlaces:
    """Where a table's rows were read from, so a message names a row as its user finds it: one file (rows
    counted in it), or the part files of a partitioned table read one after the other (each with the
    table's row its first row became)."""

    parts: tuple[tuple[Path, int], ...] = ()

    def name(self, row: int) -> str:
        """A 0-based row of the table: 'row 18', or 'part-00003.parquet row 5' of a partitioned table."""
        if not self.parts:
            return f"row {row + 1}"
        path, start = self.parts[bisect.bisect_right([first for _, first in self.parts], row) - 1]
        return f"{path.name} row {row - start + 1}"

    def of_rows(self, rows: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """0-based rows of the table as their part files' names (None for one file) and 1-based rows in them."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.parts:
            return None, rows + 1
        starts = np.array([first for _, first in self.parts], dtype=np.int64)
        which = np.searchsorted(starts, rows, side="right") - 1
        return np.array([path.name for path, _ in self.parts], dtype=object)[which], rows - starts[which] + 1
