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


SPREADSHEET_COLUMNS = [
    "partner_id", "segment", "previous_segment", "deactivation_risk", "risk_band", "upgrade_potential",
    "value_at_risk", "action_title", "due_in_days", "owner", "reasons", "action", "model_version", "trained_through", "scored_at",
]
"""What a manager reads in the spreadsheet, in reading order (the full detail is in the CSV and Parquet)."""


def write_risk_list(scored: pd.DataFrame, output_dir: Path, as_of: pd.Timestamp, *, spreadsheet_rows: int = 10_000) -> Path:
    """Write risk_list.csv and .parquet (every partner) and risk_list.xlsx (the first `spreadsheet_rows`
    in priority order: what a manager works through) into the scoring date's folder; return the folder."""
    folder = scoring_folder(output_dir, as_of)
    folder.mkdir(parents=True, exist_ok=True)
    scored.to_parquet(folder / "risk_list.parquet", index=False)
    scored.to_csv(folder / "risk_list.csv", index=False, float_format="%.6g")
    _write_spreadsheet(scored.head(spreadsheet_rows), folder / "risk_list.xlsx")
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
