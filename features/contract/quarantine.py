"""Output I/O of lenient mode: the quarantine files, and the bar on how much of a table may be set aside."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from features.contract.errors import ContractError
from features.contract.files import TABLES
from features.contract.parsing import plain_values
from features.contract.screening import TableScreen

QUARANTINE_SUFFIX = ".quarantine.csv"
"""Lenient mode writes `<table>.quarantine.csv` into the quarantine folder."""


def write_quarantine(folder: Path, screens: list[TableScreen]) -> None:
    """Write each table's set-aside rows (as read, plus `row` and `problem`; of a partitioned table, `part`, the
    part file, and `row` in it, as the error messages name rows), ordered by row.

    A table with nothing set aside (or no file this time) gets no quarantine file, and a stale one
    from an earlier load is removed, so the folder always describes this load.
    """
    folder.mkdir(parents=True, exist_ok=True)
    by_table = {screen.table: screen for screen in screens}
    for table in TABLES:
        target = folder / f"{table}{QUARANTINE_SUFFIX}"
        screen = by_table.get(table)
        if screen is None or not screen.rejected:
            target.unlink(missing_ok=True)
            continue
        names = list(dict.fromkeys(problem for _, problem in screen.rejected))
        rows = np.concatenate([rejected for rejected, _ in screen.rejected])
        codes = np.concatenate([np.full(rejected.size, names.index(problem), dtype=np.int32) for rejected, problem in screen.rejected])
        order = np.argsort(rows, kind="stable")
        rows, codes = rows[order], codes[order]
        subset = screen.raw.take(pa.array(rows))
        problems = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names, pa.string())).dictionary_decode()
        part, row = screen.places.of_rows(rows)
        places = ([pa.array(part, pa.string())] if part is not None else []) + [pa.array(row, pa.int64())]
        table = pa.table(
            [plain_values(subset.column(i)) for i in range(subset.num_columns)] + places + [problems],
            names=list(screen.header.file_names) + (["part"] if part is not None else []) + ["row", "problem"],
        )
        pacsv.write_csv(table, target)


def check_quarantine_share(screen: TableScreen, bar: float, folder: Path) -> None:
    """Refuse a lenient load that set aside more than `bar` of a table's rows."""
    total = screen.raw.num_rows
    counts = screen.counts()
    set_aside = sum(counts.values())
    if total == 0 or set_aside / total <= bar:
        return
    share = set_aside / total
    top = sorted(counts.items(), key=lambda item: -item[1])
    problems = ", ".join(f"{problem} {count:,}" for problem, count in top[:3])
    more = f" and {len(top) - 3} more problems" if len(top) > 3 else ""
    needed = min(1.0, math.ceil(share * 100) / 100)
    raise ContractError(
        f"{screen.path}: {set_aside:,} of {total:,} rows set aside ({share:.1%}: {problems}{more}), more than "
        f"data.max_quarantine_share {bar:g}; the rows are in {folder / (screen.table + QUARANTINE_SUFFIX)}; fix the "
        f"input or the config, or accept the loss deliberately with --set data.max_quarantine_share={needed:g}",
        path=screen.path,
        problem="too many rows set aside",
        count=set_aside,
    )
