"""Where a scoring lands: one folder per scoring date holding the risk list as CSV and Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DEFAULT_PREVIOUS_DAYS = 7


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
            if stamp < as_of and (folder / "risk_list.parquet").is_file():
                earlier.append(stamp)
    if earlier:
        return max(earlier) + (as_of - as_of.normalize())
    return as_of - pd.Timedelta(days=DEFAULT_PREVIOUS_DAYS)


def write_risk_list(scored: pd.DataFrame, output_dir: Path, as_of: pd.Timestamp) -> Path:
    """Write risk_list.csv and risk_list.parquet into the scoring date's folder; return the folder."""
    folder = scoring_folder(output_dir, as_of)
    folder.mkdir(parents=True, exist_ok=True)
    scored.to_parquet(folder / "risk_list.parquet", index=False)
    scored.to_csv(folder / "risk_list.csv", index=False, float_format="%.6g")
    return folder
