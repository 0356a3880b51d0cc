"""The score history: what every scoring said of every partner, kept apart from the bulky outputs.

One Parquet file per scoring date, `<paths.output_dir>/history/YYYY-MM-DD.parquet` (HISTORY_COLUMNS; a
Parquet dataset that pandas, pyarrow or DuckDB read as one table), so scoring folders (spreadsheets,
reports) can be pruned without losing the history. `partner-churn score` writes the date's entry after
its folder, holding the date's lock; rescoring a date replaces its entry in one atomic rename, so a
reader sees the old entry or the new one, never a mix. A scoring in which no partner was active (forced
with --allow-stale) leaves no entry, and removes one an earlier scoring of that date left: it is never
"the previous scoring".

The previous scoring (`previous_scoring`) is the latest entry scored before a given time: what batch
scoring, the report and the service compare with (`serving.core.compare_with_previous`). A crash
between the folder's swap and the entry's rename leaves the date's earlier entry (or none) until the
date is scored again; rescoring an earlier date does not rewrite the comparisons of later ones.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from partner_churn.domain import LAST_ACTIVITY, utc
from partner_churn.errors import InputError
from serving.core import PreviousScoring

HISTORY = "history"
"""The history's folder inside `paths.output_dir`."""
_TIME = pa.timestamp("ns", tz="UTC")
HISTORY_SCHEMA = pa.schema(
    [
        ("as_of", _TIME),
        ("partner_id", pa.string()),
        ("segment", pa.string()),
        ("previous_segment", pa.string()),
        (LAST_ACTIVITY, pa.float64()),
        ("deactivation_risk", pa.float64()),
        ("risk_band", pa.string()),
        ("previous_risk", pa.float64()),
        ("risk_change", pa.float64()),
        ("risk_trend", pa.string()),
        ("high_band_since", _TIME),
        ("weeks_in_high_band", pa.int64()),
        ("upgrade_potential", pa.float64()),
        ("potential_band", pa.string()),
        ("value_at_risk", pa.float64()),
        ("expected_revenue", pa.float64()),
        ("action", pa.string()),
        ("model_version", pa.string()),
        ("scored_at", _TIME),
    ]
)
"""What an entry keeps of each partner (the risk list's columns of the same names), typed alike in every
entry so that the entries read as one table."""
HISTORY_COLUMNS = HISTORY_SCHEMA.names
logger = logging.getLogger("partner_churn.history")
_ENTRY = re.compile(r"^(\d{4}-\d{2}-\d{2})\.parquet$")


def history_folder(output_dir: Path) -> Path:
    return output_dir / HISTORY


def entry_path(output_dir: Path, as_of: pd.Timestamp) -> Path:
    """The entry of one scoring date, e.g. work/scores/history/2026-07-01.parquet."""
    return history_folder(output_dir) / f"{as_of:%Y-%m-%d}.parquet"


def write_entry(scored: pd.DataFrame, output_dir: Path, as_of: pd.Timestamp, *, active_partners: int) -> None:
    """Make the scoring at `as_of` the date's entry (atomically), or remove the date's entry when no
    partner was active. Call it holding the date's `scoring_lock`."""
    path = entry_path(output_dir, as_of)
    if active_partners <= 0:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):  # of a scoring of this date killed mid-write
        leftover.unlink(missing_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(_typed(scored), staging)
        with open(staging, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)
    except (OSError, ValueError, pa.ArrowException) as exc:
        staging.unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or _first_line(exc)
        raise InputError(f"cannot write the score history entry {path}: {reason}; the scoring's folder is written") from None


def _typed(scored: pd.DataFrame) -> pa.Table:
    """The history's columns of a risk list as HISTORY_SCHEMA says, whatever pandas made of an all-empty column."""
    columns = {}
    for field in HISTORY_SCHEMA:
        values = scored[field.name]
        if pa.types.is_timestamp(field.type):
            columns[field.name] = pa.array(pd.to_datetime(values, utc=True), type=field.type)
        elif pa.types.is_string(field.type):
            columns[field.name] = pa.array(values.astype("string"), type=field.type, from_pandas=True)
        else:
            columns[field.name] = pa.array(pd.to_numeric(values), type=field.type, from_pandas=True)
    return pa.table(columns, schema=HISTORY_SCHEMA)


def entry_dates(output_dir: Path) -> list[pd.Timestamp]:
    """Dates with an entry in the history, oldest first."""
    folder = history_folder(output_dir)
    if not folder.is_dir():
        return []
    dates = []
    for path in folder.iterdir():
        match = _ENTRY.match(path.name)
        if not match:
            continue
        try:
            dates.append(pd.Timestamp(match.group(1), tz="UTC"))
        except ValueError:  # 2026-13-01.parquet: someone's file, not an entry
            continue
    return sorted(dates)


def read_entry(output_dir: Path, day: pd.Timestamp) -> PreviousScoring:
    """The entry of a date as a PreviousScoring (rows indexed by partner_id), or one line naming the file."""
    path = entry_path(output_dir, day)
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read the score history entry ({_first_line(exc)}); score {day:%Y-%m-%d} again or remove the file") from None
    missing = [c for c in ("as_of", "partner_id", "segment", "deactivation_risk", "risk_band", "high_band_since") if c not in frame]
    if missing or frame.empty:
        raise InputError(
            f"{path}: not a score history entry ({'no rows' if not missing else f'no column(s) {missing}'}); score {day:%Y-%m-%d} again or remove the file"
        )
    repeated = frame["partner_id"][frame["partner_id"].duplicated()]
    if len(repeated):
        raise InputError(
            f"{path}: not a score history entry (partner_id {repeated.iloc[0]!r} appears more than once); score {day:%Y-%m-%d} again or remove the file"
        )
    rows = frame.set_index("partner_id")
    # Build the index's lazy hash engine now, before the service's threads share it (see ProgramContext.index_of).
    rows.index.get_indexer(rows.index[:1])
    return PreviousScoring(as_of=utc(frame["as_of"].iloc[0]), rows=rows)


def previous_scoring(
    output_dir: Path, before: pd.Timestamp, *, read: Callable[[Path, pd.Timestamp], PreviousScoring] = read_entry
) -> PreviousScoring | None:
    """The latest entry scored before `before` (batch scoring passes its date's midnight, so a rescoring
    of a date never compares with itself, nor reads its entry), or None: the first scoring. `read` reads
    one date's entry (the service's reader keeps them in memory)."""
    before = utc(before)
    for day in reversed(entry_dates(output_dir)):
        if day >= before:  # an entry is scored at or after its date's midnight: never before `before`
            continue
        entry = read(output_dir, day)
        if entry.as_of < before:
            return entry
    return None


def scorings_near(output_dir: Path, cutoffs: Sequence[pd.Timestamp], *, within_days: int, before: pd.Timestamp) -> dict[pd.Timestamp, pd.DataFrame]:
    """Per cutoff, the rows (partner_id a column) of the entry dated nearest it (the later of two as near),
    at most `within_days` away and dated before the day of `before` (the scoring being made: never itself);
    cutoffs without one are left out. An entry that cannot be read is one line naming its file."""
    dates = [d for d in entry_dates(output_dir) if d < utc(before).normalize()]
    found: dict[pd.Timestamp, pd.DataFrame] = {}
    for cutoff in map(utc, cutoffs):
        near = [d for d in dates if abs((d - cutoff.normalize()).days) <= within_days]
        if near:
            day = min(near, key=lambda d: (abs((d - cutoff.normalize()).days), -d.value))
            found[cutoff] = read_entry(output_dir, day).rows.reset_index()
    return found


def partner_history(output_dir: Path, partner_id: str) -> pd.DataFrame:
    """Every entry's row of one partner, oldest first (HISTORY_COLUMNS), or one line saying why there is none."""
    dates = entry_dates(output_dir)
    folder = history_folder(output_dir)
    if not dates:
        raise InputError(f"no score history in {folder}: run partner-churn score --as-of DATE first")
    try:
        dataset = ds.dataset([str(entry_path(output_dir, d)) for d in dates], format="parquet", schema=HISTORY_SCHEMA)
        table = dataset.to_table(filter=ds.field("partner_id") == str(partner_id))
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{folder}: cannot read the score history ({_first_line(exc)})") from None
    rows = table.to_pandas().sort_values("as_of", kind="stable").reset_index(drop=True)
    if rows.empty:
        raise InputError(f"partner {partner_id!r} is in none of the {len(dates)} scorings in {folder} ({dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d})")
    return rows


def risk_bands(output_dir: Path) -> pd.DataFrame | None:
    """partner_id, as_of and risk_band of every scoring in the history (one dataset read, three columns); None
    when there is none, one line naming the folder when it cannot be read."""
    dates = entry_dates(output_dir)
    if not dates:
        return None
    folder = history_folder(output_dir)
    try:
        dataset = ds.dataset([str(entry_path(output_dir, d)) for d in dates], format="parquet", schema=HISTORY_SCHEMA)
        table = dataset.to_table(columns=["partner_id", "as_of", "risk_band"])
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{folder}: cannot read the score history ({_first_line(exc)})") from None
    return table.to_pandas()


class HistoryReader:
    """The previous scoring for the service (`previous_scoring`), each entry read once: the history folder is
    listed at every request (a new batch scoring is seen at the next one) and an entry read again only when
    its file changed (inode, modification time, size). A damaged entry is logged once and answers compare
    with nothing until it is replaced; a request never fails for the history."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self._lock = threading.Lock()
        self._entries: dict[pd.Timestamp, tuple[tuple[int, int, int], PreviousScoring | InputError]] = {}

    def previous(self, before: pd.Timestamp) -> PreviousScoring | None:
        try:
            with self._lock:
                return previous_scoring(self.output_dir, before, read=self._read)
        except (InputError, OSError):
            return None

    def _read(self, output_dir: Path, day: pd.Timestamp) -> PreviousScoring:
        found = entry_path(output_dir, day).stat()
        key = (found.st_ino, found.st_mtime_ns, found.st_size)
        cached = self._entries.get(day)
        if cached is None or cached[0] != key:
            try:
                value: PreviousScoring | InputError = read_entry(output_dir, day)
            except InputError as exc:
                logger.warning("score history: %s; answers compare with no previous scoring until it is replaced", exc)
                value = exc
            self._entries[day] = (key, value)
        value = self._entries[day][1]
        if isinstance(value, InputError):
            raise value
        return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
