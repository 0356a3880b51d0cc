"""The one entry point, `load_program`, and what it returns, `Program`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract.errors import ContractError, RowPlaces
from features.contract.files import (
    OPTIONAL_TABLES,
    TABLES,
    TableHeader,
    TableSpec,
    check_no_money_without_amount,
    inspect_header,
    locate_table_file,
    read_table,
    table_specs,
)
from features.contract.parsing import event_type_codes
from features.contract.partitions import Partitioning, read_partitioning
from features.contract.quarantine import check_quarantine_share, write_quarantine
from features.contract.screening import TableScreen
from features.contract.tables import screen_actions, screen_events, screen_partners, screen_surveys
from partner_churn.config import DataConfig


@dataclass(frozen=True, eq=False)
class Program:
    """One partner program as the rest of the code sees it: typed, checked, UTC, sorted."""

    partners: pd.DataFrame
    """`partner_id` (str, object dtype, unique), `signup_at` (datetime64[ns, UTC]), then the declared
    attribute columns present in the file, in file order, cast to their declared types."""
    events: pd.DataFrame
    """`partner_id` (categorical over `partners.partner_id`, in that order), `ts` (datetime64[ns, UTC]),
    `event_type` (categorical over the configured vocabulary, in config order), `amount` (float64, >= 0;
    0.0 throughout when the file has no amount column), `event_id` when the file has it, declared extra
    columns present in the file (no `currency`: see `currency`). Sorted by partner
    (category order) then `ts`, stable, index 0..n-1. Text columns here are `string[pyarrow]`, not
    object, because this table is large."""
    actions: pd.DataFrame | None
    """Like `events`: `partner_id`, `ts`, `action` (str, object dtype), declared extra columns, same
    sort; `None` when there is no actions file, an empty frame when it has a header and no rows."""
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)
    """Lenient mode: table -> problem -> rows set aside; empty when nothing was set aside."""
    currency: str | None = None
    """The one currency of the money events (trimmed, upper case, as the events' `currency` column gives
    it); None when the file has no currency column or no money event was kept."""
    surveys: pd.DataFrame | None = None
    """Partner satisfaction answers, like `actions`: `partner_id`, `ts`, `score` (float64, 0-10), `comment`
    (str or None, object dtype) when the file has it, declared extra columns, same sort; `None` when there is
    no surveys file."""


def load_program(
    data_dir: Path,
    data: DataConfig,
    as_of: pd.Timestamp,
    *,
    lenient: bool = False,
    quarantine_dir: Path | None = None,
    partition: int | None = None,
) -> Program:
    """Read and check a program's tables as of `as_of` (naive means UTC).

    Strict mode raises `ContractError` at the first problem. Lenient mode still raises on file-level
    problems, but sets bad rows aside into `quarantine_dir` and reports how many, per table and
    problem, in `Program.quarantined`; a stale quarantine file of a table with nothing set aside is
    removed so the folder always describes this load. It raises too, after writing the quarantine
    files, when a table has more than `data.max_quarantine_share` of its rows set aside.

    A partitioned folder (`features.contract.partitions`) is read whole, its parts one after the other, or,
    with `partition`, that partition alone (a program of its own: its partners with all their rows); its
    tables already have the contract's names and event types, so `data.column_map` and
    `data.event_type_map` do not apply.
    """
    if lenient and quarantine_dir is None:
        raise ValueError("lenient loading needs a quarantine_dir to write the rows it sets aside")
    data_dir = Path(data_dir)
    as_of = _as_utc(as_of)
    specs = table_specs(data)

    if not data_dir.is_dir():
        raise ContractError(f"{data_dir}: data folder not found", path=data_dir)
    layout = read_partitioning(data_dir)
    if layout is None:
        if partition is not None:
            raise ContractError(f"{data_dir}: not a partitioned folder (no partitions.json): no partition {partition} to read", path=data_dir)
        paths = {name: locate_table_file(data_dir, name, required=name not in OPTIONAL_TABLES) for name in TABLES}
        found = {name: path for name, path in paths.items() if path is not None}
        headers = {name: inspect_header(path, specs[name]) for name, path in found.items()}
        raw = {name: read_table(path, specs[name], headers[name]) for name, path in found.items()}
        places: dict[str, RowPlaces] = {}
    else:
        data = data.model_copy(update={"column_map": {}, "event_type_map": {}})
        specs = table_specs(data)
        found, headers, raw, places = _read_partitioned(data_dir, layout, specs, partition)
    event_types = event_type_codes(raw["events"].column("event_type"), data)
    if "amount" not in raw["events"].column_names:
        check_no_money_without_amount(found["events"], event_types, data, places.get("events"))

    partners, signup_ns, partners_screen = screen_partners(
        TableScreen(found["partners"], "partners", raw["partners"], headers["partners"], lenient=lenient, places=places.get("partners")), data, as_of
    )
    partner_index = pd.Index(partners["partner_id"].to_numpy(), dtype=object)
    events, currency, events_screen = screen_events(
        TableScreen(found["events"], "events", raw["events"], headers["events"], lenient=lenient, places=places.get("events")),
        data,
        event_types,
        partner_index,
        signup_ns,
        as_of,
    )
    screens = [partners_screen, events_screen]
    optional: dict[str, pd.DataFrame] = {}
    for name, screen_table in (("actions", screen_actions), ("surveys", screen_surveys)):
        if name in raw:
            table_screen = TableScreen(found[name], name, raw[name], headers[name], lenient=lenient, places=places.get(name))
            optional[name], checked = screen_table(table_screen, data, partner_index, signup_ns, as_of)
            screens.append(checked)

    quarantined: dict[str, dict[str, int]] = {}
    if lenient:
        assert quarantine_dir is not None
        for screen in screens:
            counts = screen.counts()
            if counts:
                quarantined[screen.table] = counts
        write_quarantine(Path(quarantine_dir), screens)
        for screen in screens:
            check_quarantine_share(screen, data.max_quarantine_share, Path(quarantine_dir))
    return Program(
        partners=partners, events=events, actions=optional.get("actions"), quarantined=quarantined, currency=currency, surveys=optional.get("surveys")
    )


def _read_partitioned(
    data_dir: Path, layout: Partitioning, specs: dict[str, TableSpec], partition: int | None
) -> tuple[dict[str, Path], dict[str, TableHeader], dict[str, pa.Table], dict[str, RowPlaces]]:
    """Each stored table's path (its part file, or its folder when read whole), header, rows, and, read
    whole, where each part's rows begin (so a message names the part file and its row)."""
    if partition is not None and not 0 <= partition < layout.partitions:
        raise ContractError(f"{data_dir}: partition {partition} does not exist (0..{layout.partitions - 1})", path=data_dir)
    missing = [name for name in TABLES if name not in OPTIONAL_TABLES and name not in layout.tables]
    if missing:
        raise ContractError(f"{data_dir}: partitioned folder without a {missing[0]} table", path=data_dir, problem="missing file")
    found: dict[str, Path] = {}
    headers: dict[str, TableHeader] = {}
    raw: dict[str, pa.Table] = {}
    places: dict[str, RowPlaces] = {}
    for name in (t for t in TABLES if t in layout.tables):
        indexes = range(layout.partitions) if partition is None else [partition]
        files = [layout.part_file(data_dir, name, i) for i in indexes]
        parts = []
        for path in files:
            header = inspect_header(path, specs[name])
            if name in headers and header.names != headers[name].names:
                raise ContractError(
                    f"{path}: columns {list(header.names)} differ from {files[0]}'s {list(headers[name].names)}: the parts of a table must agree",
                    path=path,
                    problem="wrong columns",
                )
            headers[name] = header
            parts.append(read_table(path, specs[name], header, allow_empty=True))
        found[name] = files[0] if partition is not None else data_dir / name
        raw[name] = pa.concat_tables(parts)
        if partition is None:
            starts = np.cumsum([0, *(part.num_rows for part in parts[:-1])])
            places[name] = RowPlaces(tuple((path, int(start)) for path, start in zip(files, starts)))
        if raw[name].num_rows == 0 and name not in OPTIONAL_TABLES and partition is None:
            raise ContractError(f"{found[name]}: no rows in any part", path=found[name], problem="empty file")
    return found, headers, raw, places


def _as_utc(moment: pd.Timestamp) -> pd.Timestamp:
    moment = pd.Timestamp(moment)
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
