"""How the contract reports a problem: `ContractError` and the values its one-line messages show."""

from __future__ import annotations

from pathlib import Path

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
