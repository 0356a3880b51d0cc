"""The files of `partner-churn effects` in `paths.reports_dir/effects/`: the effects table
(effects_DATE.csv, `retention.effects.EFFECT_COLUMNS`) and the uplift models' out-of-time evaluations
(uplift_DATE.json), DATE the measurement's cutoff; and the reader the scoring's report takes them from.

One module owns their names and the JSON's shape, so the command that writes them and the report that
reads them cannot disagree. It is a module of its own rather than part of `serving.outputs` because
those are the scoring's own files (one folder per scoring date, written all or nothing), while these
are another command's, read only; `monitoring.store.write_text` writes them (serving sits above
monitoring and does not import it).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from partner_churn.domain import utc
from partner_churn.errors import InputError
from partner_churn.locks import process_lock
from retention.effects import EFFECT_COLUMNS

EFFECTS_FOLDER = "effects"
"""The folder of the effects files inside `paths.reports_dir` (beside `monitoring/`)."""
EFFECTS_CSV = "effects_{date}.csv"
UPLIFT_JSON = "uplift_{date}.json"
_DATED_TABLE = re.compile(r"^effects_(\d{4}-\d{2}-\d{2})\.csv$")
_TEXT_COLUMNS = ("action", "segment", "risk_band", "silent_verdict", "revenue_verdict", "message")


def effects_lock(reports_dir: Path) -> AbstractContextManager[None]:
    """One registering `partner-churn effects` at a time (InputError at once when another holds it)."""
    return process_lock(reports_dir / EFFECTS_FOLDER / ".effects.lock", "partner-churn effects")


def effects_file(reports_dir: Path, as_of: pd.Timestamp) -> Path:
    """Where the effects table of a measurement as of `as_of` goes: reports/effects/effects_2026-07-01.csv."""
    return reports_dir / EFFECTS_FOLDER / EFFECTS_CSV.format(date=f"{as_of:%Y-%m-%d}")


def uplift_file(reports_dir: Path, as_of: pd.Timestamp) -> Path:
    """Where the uplift evaluations of a measurement as of `as_of` go: reports/effects/uplift_2026-07-01.json."""
    return reports_dir / EFFECTS_FOLDER / UPLIFT_JSON.format(date=f"{as_of:%Y-%m-%d}")


def uplift_json(evaluations: Sequence[dict[str, Any]], skipped: Sequence[str], *, as_of: pd.Timestamp, confidence: float, horizon_days: int) -> str:
    """The uplift file's text: the cutoff, the effects table's interval level and horizon, each judged action's
    `retention.measure.evaluation_record` (with its Qini `curve`) and a line per action that could not be
    judged. Strict JSON: a missing figure (NaN) is null."""
    document = {
        "as_of": utc(as_of).isoformat(),
        "confidence": confidence,
        "horizon_days": horizon_days,
        "evaluations": [_plain(record) for record in evaluations],
        "skipped": list(skipped),
    }
    return json.dumps(document, indent=2, allow_nan=False, default=str) + "\n"


def _plain(value: Any) -> Any:
    """JSON values with NaN and infinities as null (numpy numbers as Python's)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class MeasuredEffects:
    """What the latest measurement of the logged actions found, for the report."""

    as_of: pd.Timestamp
    """The measurement's cutoff (the date in the file names)."""
    table: pd.DataFrame
    """The effects table (EFFECT_COLUMNS), in its order."""
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    """Each judged action's evaluation record (action, qini, qini_low, qini_high, curve, ...); NaN for null."""
    skipped: list[str] = field(default_factory=list)
    """A line per action that could not be judged."""
    confidence: float | None = None
    """The effects table's interval level; None when the uplift file is missing."""
    horizon_days: int | None = None
    """The horizon the outcomes were measured over; None as above."""
    evaluated: bool = True
    """Whether the date's uplift file was there (False: a run from before it was written, or one that stopped
    before judging the actions)."""


def latest_effects(reports_dir: Path, as_of: pd.Timestamp) -> MeasuredEffects | None:
    """The latest effects table dated at or before `as_of` and that date's uplift evaluations (none when its
    uplift file is missing); None when there is no effects table. A file that cannot be read or is not what
    the command writes: InputError, one line naming it."""
    folder = reports_dir / EFFECTS_FOLDER
    if not folder.is_dir():
        return None
    cutoff = utc(as_of)
    dated = []
    for path in folder.iterdir():
        found = _DATED_TABLE.match(path.name)
        if found and path.is_file():
            try:
                day = pd.Timestamp(found.group(1), tz="UTC")
            except ValueError:
                continue
            if day <= cutoff:
                dated.append((day, path))
    if not dated:
        return None
    day, path = max(dated)
    table = _read_table(path)
    uplift = uplift_file(reports_dir, day)
    if not uplift.is_file():
        return MeasuredEffects(as_of=day, table=table, evaluated=False)
    evaluations, skipped, confidence, horizon = _read_uplift(uplift)
    return MeasuredEffects(as_of=day, table=table, evaluations=evaluations, skipped=skipped, confidence=confidence, horizon_days=horizon)


def _read_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in _TEXT_COLUMNS})
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # pandas' parser and empty-file errors are ValueErrors
        raise InputError(f"{path}: cannot read the effects table ({_first_line(exc)}); run partner-churn effects again") from None
    missing = [c for c in EFFECT_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: not an effects table of partner-churn effects (lacks {missing[:4]}); run partner-churn effects again")
    numbers = [c for c in EFFECT_COLUMNS if c not in _TEXT_COLUMNS]
    try:
        table[numbers] = table[numbers].apply(pd.to_numeric, errors="raise")
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: the effects table has a value that is no number ({_first_line(exc)}); run partner-churn effects again") from None
    for column in _TEXT_COLUMNS:
        table[column] = table[column].fillna("")
    return table[list(EFFECT_COLUMNS)].reset_index(drop=True)


def _read_uplift(path: Path) -> tuple[list[dict[str, Any]], list[str], float | None, int | None]:
    def bad(why: str) -> InputError:
        return InputError(f"{path}: cannot read the uplift evaluations ({why}); run partner-churn effects again")

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise bad(_first_line(exc)) from None
    if not isinstance(document, dict) or not isinstance(document.get("evaluations"), list):
        raise bad("no list of evaluations")
    evaluations = []
    for record in document["evaluations"]:
        if not isinstance(record, dict) or not isinstance(record.get("action"), str):
            raise bad("an evaluation without its action")
        try:
            figures = {name: _number(record.get(name)) for name in ("qini", "qini_low", "qini_high", "effect")}
            curve = [_number(point) for point in record.get("curve") or []]
        except (TypeError, ValueError):
            raise bad(f"a figure of {record['action']!r} that is no number") from None
        evaluations.append({**record, **figures, "curve": curve})
    skipped = document.get("skipped") or []
    if not isinstance(skipped, list):
        raise bad("skipped is no list")
    confidence, horizon = document.get("confidence"), document.get("horizon_days")
    return (
        evaluations,
        [str(line) for line in skipped],
        float(confidence) if isinstance(confidence, int | float) else None,
        int(horizon) if isinstance(horizon, int | float) else None,
    )


def _number(value: object) -> float:
    """A JSON figure as a float; null is NaN."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is no number")
    return float(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
