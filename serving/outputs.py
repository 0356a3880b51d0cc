"""Where a scoring lands: one folder per scoring date holding the risk list (CSV, Parquet, spreadsheet),
the report and a manifest; the only I/O of a scoring, crash-safe.

A scoring holds a lock on its date (`scoring_lock`): a second scoring of the same date refuses in one line
instead of mixing rows into the same files. Its files are first written into a staging folder, which takes
the date folder's place in one atomic swap once all of them were written (`write_scoring`): a full disk or
a crash leaves the previous scoring of that date as it was. `previous_scoring` skips folders
whose manifest says no partner was active (a forced scoring of nobody is never "the previous scoring").
"""

from __future__ import annotations

import ctypes
import errno
import fnmatch
import json
import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pandas as pd
from xlsxwriter.exceptions import FileCreateError

from partner_churn.errors import InputError
from partner_churn.locks import process_lock
from serving.today import CONTACT_COLUMNS, contacts_due, crm_tasks

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
TODAY_SHEET, RISK_LIST_SHEET = "this week", "risk list"
CONTACTS_CSV = "contacts_{owner}.csv"
"""One CRM import file per owner with contacts due this week (`serving.today.CRM_COLUMNS`)."""


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
    return the folder. All or nothing: the files are written into a staging folder beside it, which then
    takes the date folder's place in one step (`_swap_into_place`); an InputError (one line) leaves the
    folder as it was. Call it holding `scoring_lock`."""
    folder = scoring_folder(output_dir, as_of)
    writers: dict[str, Callable[[Path], object]] = {
        RISK_LIST: lambda path: scored.to_parquet(path, index=False),
        "risk_list.csv": lambda path: scored.to_csv(path, index=False, float_format="%.6g"),
        "risk_list.xlsx": lambda path: _write_spreadsheet(scored.head(spreadsheet_rows), contacts, path),
        REPORT: lambda path: path.write_text(report_html, encoding="utf-8"),
        MANIFEST: lambda path: path.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8"),
    }
    contacts = contacts_due(scored, as_of) if len(scored) else pd.DataFrame(columns=CONTACT_COLUMNS)
    for owner, tasks in contacts.groupby("owner", sort=True):
        writers = {CONTACTS_CSV.format(owner=owner): lambda path, tasks=tasks: crm_tasks(tasks).to_csv(path, index=False), **writers}
    staging = output_dir / f".{folder.name}.{os.getpid()}.staging"
    try:
        for leftover in output_dir.glob(f".{folder.name}.*.staging"):  # of a scoring killed before its swap
            shutil.rmtree(leftover, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, write in writers.items():
            write(staging / name)
        if folder.is_dir():  # files someone put beside an earlier scoring stay
            for other in folder.iterdir():
                ours = other.name in writers or fnmatch.fnmatch(other.name, CONTACTS_CSV.format(owner="*"))
                if not ours and other.is_file():
                    os.link(other, staging / other.name)
        _swap_into_place(staging, folder, last=MANIFEST)
    except (OSError, FileCreateError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"cannot write the scoring of {as_of:%Y-%m-%d} to {folder}: {reason}; the files already there are left as they were") from None
    shutil.rmtree(staging, ignore_errors=True)  # after a swap it holds the previous files
    return folder


RENAME_EXCHANGE = 2
AT_FDCWD = -100


def _swap_into_place(staging: Path, folder: Path, *, last: str) -> None:
    """Make `staging`'s files the folder's in one step: a rename when there is no folder yet, else Linux's
    renameat2(RENAME_EXCHANGE), which swaps the two folders atomically (a reader sees all old or all new
    files, even if the process dies right then). Where that call is missing (another OS, a file system
    without it), the files are renamed one by one, `last` last: a crash in that loop can leave some files
    of each scoring, with the earlier manifest saying so."""
    if not folder.exists():
        os.rename(staging, folder)
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.renameat2(AT_FDCWD, os.fsencode(staging), AT_FDCWD, os.fsencode(folder), RENAME_EXCHANGE) == 0:
            return
        error = ctypes.get_errno()
        if error not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(error, os.strerror(error), str(folder))
    except AttributeError:  # no renameat2 in this C library
        pass
    names = sorted((p.name for p in staging.iterdir()), key=lambda name: name == last)
    for name in names:
        os.replace(staging / name, folder / name)


def _write_spreadsheet(scored: pd.DataFrame, contacts: pd.DataFrame, path: Path) -> None:
    """The spreadsheet for managers: first the contacts due this week by owner (`serving.today`), then the
    risk list; frozen headers, filters, readable widths and number formats."""
    risk_list = scored[[c for c in SPREADSHEET_COLUMNS if c in scored.columns]].copy()
    for column in risk_list.columns:
        if isinstance(risk_list[column].dtype, pd.DatetimeTZDtype):
            risk_list[column] = risk_list[column].dt.tz_convert("UTC").dt.tz_localize(None)  # Excel has no time zones
    widths = {"partner_id": 12, "reasons": 90, "action_title": 40, "action_description": 90, "model_version": 30, "scored_at": 20}
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        book = writer.book
        percent, money = book.add_format({"num_format": "0%"}), book.add_format({"num_format": "#,##0"})
        wrapped = book.add_format({"text_wrap": True, "valign": "top"})
        formats = {"deactivation_risk": percent, "upgrade_potential": percent, "value_at_risk": money, "action_description": wrapped, "reasons": wrapped}
        for name, sheet in ((TODAY_SHEET, contacts), (RISK_LIST_SHEET, risk_list)):
            sheet.to_excel(writer, sheet_name=name, index=False)
            page = writer.sheets[name]
            for position, column in enumerate(sheet.columns):
                page.set_column(position, position, widths.get(column, 14), formats.get(column))
            page.freeze_panes(1, 1)
            page.autofilter(0, 0, max(len(sheet), 1), max(len(sheet.columns) - 1, 0))
