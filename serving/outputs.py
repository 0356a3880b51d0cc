"""Where a scoring lands: one folder per scoring date holding the risk list (CSV, Parquet, spreadsheet),
the report and a manifest; the only I/O of a scoring, crash-safe.

A scoring holds a lock on its date (`scoring_lock`): a second scoring of the same date refuses in one line
instead of mixing rows into the same files. Its files are first written under temporary names beside the
old ones and renamed into place only when all of them were written (`write_scoring`), the manifest last: a
full disk or a crash leaves the previous scoring of that date as it was. `previous_scoring` skips folders
whose manifest says no partner was active (a forced scoring of nobody is never "the previous scoring").
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pandas as pd
from xlsxwriter.exceptions import FileCreateError

from partner_churn.errors import InputError
from partner_churn.locks import process_lock

DEFAULT_PREVIOUS_DAYS = 7
RISK_LIST = "risk_list.parquet"
"""The file that makes a folder a scoring (what later scorings and monitoring read)."""
REPORT = "report.html"
MANIFEST = "scoring.json"
"""What was scored: date, partners, active partners, models; written last."""


def scoring_folder(output_dir: Path, as_of: pd.Timestamp) -> Path:
    """The folder of one scoring date, e.g. work/scores/2026-07-01."""
    return output_dir / f"{as_of:%Y-%m-%d}"


def previous_scoring(output_dir: Path, as_of: pd.Timestamp) -> pd.Timestamp:
    """Date of the latest earlier scoring in `output_dir`, or a week before `as_of` when there is none."""
    earlier = []
    if output_dir.is_dir():
        for folder in output_dir.iterdir():
            try:
                stamp = pd.Timestamp(folder.name, tz="UTC")
            except ValueError:
                continue
            if stamp < as_of and (folder / RISK_LIST).is_file() and _has_active_partners(folder):
                earlier.append(stamp)
    if earlier:
        return max(earlier) + (as_of - as_of.normalize())
    return as_of - pd.Timedelta(days=DEFAULT_PREVIOUS_DAYS)


SPREADSHEET_COLUMNS = [
    "partner_id", "segment", "previous_segment", "deactivation_risk", "risk_band", "upgrade_potential",
    "value_at_risk", "action_title", "due_in_days", "owner", "reasons", "action", "model_version", "trained_through", "scored_at",
]
"""What a manager reads in the spreadsheet, in reading order (the full detail is in the CSV and Parquet)."""


def _has_active_partners(folder: Path) -> bool:
    """False only when the folder's manifest says nobody was active (folders from before manifests count)."""
    try:
        return int(json.loads((folder / MANIFEST).read_text()).get("active_partners", 1)) > 0
    except (OSError, ValueError, TypeError, AttributeError):
        return True


def scoring_lock(output_dir: Path, as_of: pd.Timestamp) -> AbstractContextManager[None]:
    """The lock of one scoring date, held for a block; InputError at once when another process holds it."""
    return process_lock(output_dir / f".{as_of:%Y-%m-%d}.lock", f"scoring of {as_of:%Y-%m-%d}")


def write_scoring(
    scored: pd.DataFrame,
    report_html: str,
    output_dir: Path,
    as_of: pd.Timestamp,
    manifest: dict[str, Any],
    *,
    spreadsheet_rows: int = 10_000,
) -> Path:
    """Write risk_list.csv and .parquet (every partner), risk_list.xlsx (the first `spreadsheet_rows` in
    priority order: what a manager works through), report.html and scoring.json into the date's folder;
    return the folder. All or nothing: each file is staged under a temporary name and renamed into place
    once every one of them was written; an InputError (one line) leaves the folder as it was."""
    folder = scoring_folder(output_dir, as_of)
    writers: dict[str, Callable[[Path], object]] = {
        RISK_LIST: lambda path: scored.to_parquet(path, index=False),
        "risk_list.csv": lambda path: scored.to_csv(path, index=False, float_format="%.6g"),
        "risk_list.xlsx": lambda path: _write_spreadsheet(scored.head(spreadsheet_rows), path),
        REPORT: lambda path: path.write_text(report_html, encoding="utf-8"),
        MANIFEST: lambda path: path.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8"),
    }
    staged: dict[str, Path] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, write in writers.items():
            staged[name] = folder / f".{Path(name).stem}.{os.getpid()}.tmp{Path(name).suffix}"
            write(staged[name])
        for name, temporary in staged.items():  # the manifest last: it says the scoring is complete
            os.replace(temporary, folder / name)
    except (OSError, FileCreateError) as exc:
        for temporary in staged.values():
            temporary.unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"cannot write the scoring of {as_of:%Y-%m-%d} to {folder}: {reason}; the files already there are left as they were") from None
    return folder


def _write_spreadsheet(scored: pd.DataFrame, path: Path) -> None:
    """The risk list for managers: one sheet, frozen header, filters, readable widths and number formats."""
    sheet = scored[[c for c in SPREADSHEET_COLUMNS if c in scored.columns]].copy()
    for column in sheet.columns:
        if isinstance(sheet[column].dtype, pd.DatetimeTZDtype):
            sheet[column] = sheet[column].dt.tz_convert("UTC").dt.tz_localize(None)  # Excel has no time zones
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        sheet.to_excel(writer, sheet_name="risk list", index=False)
        book, page = writer.book, writer.sheets["risk list"]
        percent, money = book.add_format({"num_format": "0%"}), book.add_format({"num_format": "#,##0"})
        widths = {"partner_id": 12, "reasons": 90, "action_title": 40, "model_version": 30, "scored_at": 20}
        formats = {"deactivation_risk": percent, "upgrade_potential": percent, "value_at_risk": money}
        for position, column in enumerate(sheet.columns):
            page.set_column(position, position, widths.get(column, 14), formats.get(column))
        page.freeze_panes(1, 1)
        page.autofilter(0, 0, max(len(sheet), 1), len(sheet.columns) - 1)
