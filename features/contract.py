"""The input data contract: find, read and check a program's partners, events and actions.

Everything downstream (features, labels, training, scoring, monitoring) gets its input from
`load_program`, so a program that loads can be trusted: every partner is known and unique, every
timestamp is UTC and not in the future, every event is typed from the configured vocabulary, and
money is a non-negative number. Bad input is the user's to fix, so each problem is a `ContractError`
(an `InputError`) whose one-line message names the file, the column, the problem, how many rows have
it and up to five of them (1-based data row numbers, header not counted, with their values).

Files: `<data_dir>/partners`, `<data_dir>/events` and optionally `<data_dir>/actions`, each as
`.parquet` or `.csv` (never both). Columns are matched by name, after `data.column_map` renamed the
file's own names to the contract's (an export's `user_id`, `created_at`, ... to `partner_id`, `ts`);
every message then names both, e.g. `column 'ts' (file column 'created_at')`, and quarantine files
keep the file's names. CSV values are read as text (so `007` stays `007` and `12,50` can be shown as
written); an empty CSV field is a missing value.
Timestamps are ISO 8601 (`2025-03-01`, `2025-03-01 14:05`, `2025-03-01T14:05:09.123Z`,
`...+03:00`, `...+0300`), years 1680-2261: values without a zone are UTC, values with one are
converted to UTC, and a column mixing the two is refused (the naive ones are ambiguous). Parquet
timestamp columns are taken as UTC (aware ones converted); Parquet text columns are parsed like CSV.
`event_type` values are matched to the vocabulary `data.event_types` directly or through
`data.event_type_map`, ignoring case and surrounding whitespace unless
`data.event_type_case_insensitive` is off. `amount` may be absent when no event is a money event;
it then reads 0.0. An optional `currency` column (compared trimmed and upper-cased) must give every
money event one and the same currency, which becomes `Program.currency`; the column itself is not
carried into the events frame, since every kept money event has that currency.

Checks run in this order; strict mode (the default) raises at the first one that finds anything,
so the message is the same on every run:

File level, all tables before any row is read (these raise in lenient mode too):
  table found (partners and events required), not both .parquet and .csv, not zero bytes, readable,
  every file column named in data.column_map present, no duplicate column names (after the map), required
  columns present, no undeclared extra column, Parquet column types usable, then (after reading) at
  least one data row in partners and events, and no money event in an events file without `amount`.

Row level, table by table (partners, events, actions), each in this order:
  partners: signup_at missing / unparseable / mixed time zones; null partner_id; declared attributes
            (value does not cast, in file order); duplicate partner_id; signup_at after as-of.
  events:   ts missing / unparseable / mixed time zones; null partner_id; amount non-numeric /
            missing (money event types only; elsewhere empty means 0.0) / negative; event_type null /
            unknown; currency missing on a money event / other currency than the money events' most
            common one; declared extra columns; unknown partner; duplicate event_id; ts before the
            partner's signup_at; ts after as-of.
  actions:  ts missing / unparseable / mixed time zones; null partner_id; null action; declared extra
            columns; unknown partner; ts before signup_at; ts after as-of.

Lenient mode sets each bad row aside under its first problem in that order, writes the set-aside
rows of each table to `<quarantine_dir>/<table>.quarantine.csv` (the columns as read, under the
file's names, plus `row` and `problem`) and reports the counts in `Program.quarantined`. Duplicates
keep their first surviving occurrence. Events and actions of a partner set aside from `partners` are
set aside as `unknown partner`. Every input row ends up either in the returned frames or in a
quarantine file. Last, a table with more than `data.max_quarantine_share` of its rows set aside is
refused (the quarantine files are written first): a load that kept little of a table is a broken
export or config, not a few bad rows, whatever lenient mode was asked for.

Events can be tens of millions of rows: the work is columnar (pyarrow compute, numpy), keys and
event types stay dictionary codes from the file to the returned categoricals, and Python only
formats the handful of example rows of a message.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from partner_churn.config import ColumnType, DataConfig
from partner_churn.errors import InputError

TABLES = tuple(DataConfig.contract_columns())
"""Input tables, in the order they are checked."""

REQUIRED_COLUMNS = {
    "partners": ("partner_id", "signup_at"),
    "events": ("partner_id", "ts", "event_type"),
    "actions": ("partner_id", "ts", "action"),
}
"""The contract columns each table must have; its other contract columns are optional."""

EXAMPLE_ROWS = 5
"""Offending rows shown in a message."""

QUARANTINE_SUFFIX = ".quarantine.csv"
"""Lenient mode writes `<table>.quarantine.csv` into the quarantine folder."""

_NAT = np.iinfo(np.int64).min
_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_MIN_NS = pd.Timestamp("1680-01-01", tz="UTC").value
_MAX_NS = pd.Timestamp("2261-12-31 23:59:59.999999999", tz="UTC").value

_YEAR = r"(?:16[89]\d|1[7-9]\d\d|2[01]\d\d|22[0-5]\d|226[01])"
_DATE = _YEAR + r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"[T ](?:[01]\d|2[0-3])(?::[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?)?"
_ZONE = r"(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)"
_NAIVE_TIMESTAMP = f"^{_DATE}(?:{_TIME})?$"
_AWARE_TIMESTAMP = f"^{_DATE}{_TIME}{_ZONE}$"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_INTEGER = r"^[+-]?\d{1,18}$"
_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]


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


@dataclass(frozen=True)
class _TableSpec:
    """What the contract requires of one table's columns."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    declared: Mapping[str, ColumnType]
    declared_in: str
    keys: tuple[str, ...]
    """Columns read dictionary-encoded: few distinct values, many rows."""
    renames: Mapping[str, str]
    """This table's data.column_map: the file's column name -> the contract's."""

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.required + self.optional + tuple(self.declared)


@dataclass(frozen=True)
class _Header:
    """A table's columns as the file names them and as the contract does (data.column_map applied), in file order."""

    file_names: tuple[str, ...]
    names: tuple[str, ...]

    def file_column(self, name: str) -> str:
        return self.file_names[self.names.index(name)] if name in self.names else name

    def label(self, name: str) -> str:
        """`'ts'`, or `'ts' (file column 'created_at')` when the file calls it otherwise."""
        file_name = self.file_column(name)
        return f"'{name}'" if file_name == name else f"'{name}' (file column '{file_name}')"


@dataclass(frozen=True)
class _Coded:
    """A text column as positions in its own dictionary of distinct values, and what each value means."""

    dictionary: pa.Array
    """The distinct values as written (strings)."""
    indices: np.ndarray
    """Each row's position in `dictionary` (int32), -1 where null."""
    codes: np.ndarray
    """Each row's meaning (int32): a position in a vocabulary, -1 when unknown, -2 when null or empty."""


@dataclass(frozen=True)
class _Timestamps:
    """A timestamp column as UTC nanoseconds, with what was wrong with each row."""

    ns: np.ndarray
    missing: np.ndarray
    bad: np.ndarray
    naive: np.ndarray
    aware: np.ndarray


@dataclass(frozen=True)
class _Numbers:
    """A numeric column as float64 (NaN where missing or bad), with what was wrong with each row."""

    values: np.ndarray
    missing: np.ndarray
    bad: np.ndarray


# ---------------------------------------------------------------------------------------------
# The one entry point


def load_program(
    data_dir: Path,
    data: DataConfig,
    as_of: pd.Timestamp,
    *,
    lenient: bool = False,
    quarantine_dir: Path | None = None,
) -> Program:
    """Read and check a program's tables as of `as_of` (naive means UTC).

    Strict mode raises `ContractError` at the first problem. Lenient mode still raises on file-level
    problems, but sets bad rows aside into `quarantine_dir` and reports how many, per table and
    problem, in `Program.quarantined`; a stale quarantine file of a table with nothing set aside is
    removed so the folder always describes this load. It raises too, after writing the quarantine
    files, when a table has more than `data.max_quarantine_share` of its rows set aside.
    """
    if lenient and quarantine_dir is None:
        raise ValueError("lenient loading needs a quarantine_dir to write the rows it sets aside")
    data_dir = Path(data_dir)
    as_of = _as_utc(as_of)
    specs = _table_specs(data)

    if not data_dir.is_dir():
        raise ContractError(f"{data_dir}: data folder not found", path=data_dir)
    paths = {name: _locate(data_dir, name, required=name != "actions") for name in TABLES}
    found = {name: path for name, path in paths.items() if path is not None}
    headers = {name: _inspect(path, specs[name]) for name, path in found.items()}
    raw = {name: _read(path, specs[name], headers[name]) for name, path in found.items()}
    event_types = _event_type_codes(raw["events"].column("event_type"), data)
    if "amount" not in raw["events"].column_names:
        _check_no_money_without_amount(found["events"], event_types, data)

    partners, signup_ns, partners_screen = _screen_partners(
        _Screen(found["partners"], "partners", raw["partners"], headers["partners"], lenient=lenient), data, as_of
    )
    partner_index = pd.Index(partners["partner_id"].to_numpy(), dtype=object)
    events, currency, events_screen = _screen_events(
        _Screen(found["events"], "events", raw["events"], headers["events"], lenient=lenient),
        data, event_types, partner_index, signup_ns, as_of,
    )
    screens = [partners_screen, events_screen]
    actions: pd.DataFrame | None = None
    if "actions" in raw:
        actions, actions_screen = _screen_actions(
            _Screen(found["actions"], "actions", raw["actions"], headers["actions"], lenient=lenient),
            data, partner_index, signup_ns, as_of,
        )
        screens.append(actions_screen)

    quarantined: dict[str, dict[str, int]] = {}
    if lenient:
        assert quarantine_dir is not None
        for screen in screens:
            counts = screen.counts()
            if counts:
                quarantined[screen.table] = counts
        _write_quarantine(Path(quarantine_dir), screens)
        for screen in screens:
            _check_quarantine_share(screen, data.max_quarantine_share, Path(quarantine_dir))
    return Program(partners=partners, events=events, actions=actions, quarantined=quarantined, currency=currency)


# ---------------------------------------------------------------------------------------------
# File level: locate, inspect headers, read (the only input I/O)


def _table_specs(data: DataConfig) -> dict[str, _TableSpec]:
    declared_in = {
        "partners": "data.partner_attributes",
        "events": "data.event_extra_columns",
        "actions": "data.action_extra_columns",
    }
    keys = {"partners": (), "events": ("partner_id", "event_type", "currency"), "actions": ("partner_id",)}
    return {
        name: _TableSpec(
            name,
            REQUIRED_COLUMNS[name],
            tuple(column for column in own if column not in REQUIRED_COLUMNS[name]),
            data.declared_columns(name),
            declared_in[name],
            keys[name],
            data.column_map.get(name, {}),
        )
        for name, own in DataConfig.contract_columns().items()
    }


def _locate(data_dir: Path, table: str, *, required: bool) -> Path | None:
    """The one file holding `table`, or None for an optional table that is absent."""
    candidates = [data_dir / f"{table}.parquet", data_dir / f"{table}.csv"]
    present = [path for path in candidates if path.exists()]
    if len(present) > 1:
        raise ContractError(
            f"{data_dir}: ambiguous {table} table: both {table}.parquet and {table}.csv exist; keep one",
            path=data_dir,
            problem="ambiguous file",
        )
    if not present:
        if required:
            raise ContractError(
                f"{data_dir}: missing {table} file: looked for {table}.parquet and {table}.csv in {data_dir}",
                path=data_dir,
                problem="missing file",
            )
        return None
    return present[0]


def _inspect(path: Path, spec: _TableSpec) -> _Header:
    """The columns to read, after the checks that need only the header (or Parquet footer)."""
    if path.is_file() and path.stat().st_size == 0:
        raise ContractError(f"{path}: empty file (zero bytes)", path=path, problem="empty file")
    schema: pa.Schema | None = None
    if path.suffix == ".parquet":
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as exc:
            raise ContractError(
                f"{path}: unreadable Parquet file ({_one_line(exc)})", path=path, problem="unreadable file"
            ) from None
        file_names = [name for name in schema.names if name not in _pandas_index_columns(schema)]
    else:
        file_names = _csv_header(path)
    header = _apply_column_map(path, file_names, spec)
    _check_names(path, header, spec)
    if schema is not None:
        for file_name, name in zip(header.file_names, header.names):
            _check_parquet_type(path, header, name, schema.field(file_name).type, _column_kind(spec, name))
    return header


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ContractError(
            f"{path}: unreadable CSV file ({_one_line(exc)})", path=path, problem="unreadable file"
        ) from None
    if not header or header == [""]:
        raise ContractError(f"{path}: empty file (no header row)", path=path, problem="empty file")
    return header


def _pandas_index_columns(schema: pa.Schema) -> set[str]:
    """Columns pandas stored for a DataFrame index (`__index_level_0__`): not data, not extra columns."""
    try:
        meta = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
    except ValueError:
        return set()
    return {name for name in meta.get("index_columns", []) if isinstance(name, str)}


def _apply_column_map(path: Path, file_names: list[str], spec: _TableSpec) -> _Header:
    """The header under the contract's names; every file column the map names must be there."""
    absent = [file_name for file_name in spec.renames if file_name not in file_names]
    if absent:
        labels = ", ".join(f"'{spec.renames[name]}' (file column '{name}')" for name in absent)
        many = len(absent) > 1
        raise ContractError(
            f"{path}: column{'s' if many else ''} {labels}: not in the file, though data.column_map.{spec.name} "
            f"names {'them' if many else 'it'} (columns found: {', '.join(file_names)})",
            path=path, column=spec.renames[absent[0]], file_column=absent[0], problem="missing column",
        )
    return _Header(tuple(file_names), tuple(spec.renames.get(name, name) for name in file_names))


def _check_names(path: Path, header: _Header, spec: _TableSpec) -> None:
    names, found = list(header.names), ", ".join(header.file_names) or "none"
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        labels, mapped = [], False
        for name in repeated:
            sources = [file_name for file_name, own in zip(header.file_names, names) if own == name]
            renamed = any(source != name for source in sources)
            labels.append(f"'{name}'" + (f" (file columns {', '.join(map(repr, sources))})" if renamed else ""))
            mapped |= renamed
        many = len(repeated) > 1
        target = "these names" if many else "it"
        mapping = f"; data.column_map.{spec.name} maps a file column to {target}" if mapped else ""
        raise ContractError(
            f"{path}: column{'s' if many else ''} {', '.join(labels)}: duplicate column name "
            f"(columns found: {found}{mapping})",
            path=path, column=repeated[0], file_column=header.file_column(repeated[0]), problem="duplicate column",
        )
    missing = [name for name in spec.required if name not in names]
    if missing:
        many = len(missing) > 1
        raise ContractError(
            f"{path}: {_columns_phrase(missing)}: missing required column{'s' if many else ''} "
            f"(columns found: {found}; a file column of another name can be mapped to "
            f"{'them' if many else 'it'} with data.column_map.{spec.name})",
            path=path, column=missing[0], problem="missing column",
        )
    extra = [name for name in names if name not in spec.allowed]
    if extra:
        them = "them" if len(extra) > 1 else "it"
        raise ContractError(
            f"{path}: {_columns_phrase(extra)}: undeclared extra column{'s' if len(extra) > 1 else ''} "
            f"(declare {them} with a type under {spec.declared_in}, map {them} to a column of the contract with "
            f"data.column_map.{spec.name}, or remove {them}; allowed here: {', '.join(spec.allowed)})",
            path=path, column=extra[0], problem="undeclared column",
        )


def _column_kind(spec: _TableSpec, name: str) -> str:
    """How a column is read: a contract column's own kind, or a declared column's type."""
    contract = {
        "partner_id": "key", "event_type": "key", "signup_at": "timestamp", "ts": "timestamp",
        "amount": "float", "event_id": "id", "action": "string", "currency": "key",
    }
    if name in spec.declared:
        return spec.declared[name]
    return contract[name]


def _check_parquet_type(path: Path, header: _Header, name: str, arrow_type: pa.DataType, kind: str) -> None:
    """Refuse a Parquet column whose type cannot hold this kind of value (every row would be bad)."""
    value_type = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    is_text = pa.types.is_string(value_type) or pa.types.is_large_string(value_type)
    is_null = pa.types.is_null(value_type)
    is_int = pa.types.is_integer(value_type)
    is_num = is_int or pa.types.is_floating(value_type) or pa.types.is_decimal(value_type)
    accepted = {
        "key": is_text or is_int,
        "id": is_text or is_int,
        "timestamp": is_text or pa.types.is_timestamp(value_type) or pa.types.is_date(value_type),
        "float": is_text or is_num,
        "integer": is_text or is_int or pa.types.is_floating(value_type),
        "boolean": is_text or is_int or pa.types.is_boolean(value_type),
        "string": not (pa.types.is_nested(value_type) or pa.types.is_binary(value_type)
                       or pa.types.is_large_binary(value_type)),
    }[kind]
    if not (accepted or is_null):
        wanted = {
            "key": "text or integers", "id": "text or integers", "timestamp": "timestamps, dates or text",
            "float": "numbers or text", "integer": "integers or text", "boolean": "booleans, 0/1 or text",
            "string": "text or plain values",
        }[kind]
        raise ContractError(
            f"{path}: column {header.label(name)}: wrong Parquet type {arrow_type} (expected {wanted})",
            path=path, column=name, file_column=header.file_column(name), problem="wrong type",
        )


def _read(path: Path, spec: _TableSpec, header: _Header) -> pa.Table:
    """The table's columns as stored (CSV: all text) under the contract's names, then the check that it has rows."""
    keys = [file_name for file_name, name in zip(header.file_names, header.names) if name in spec.keys]
    try:
        if path.suffix == ".parquet":
            with pq.ParquetFile(path, read_dictionary=keys) as parquet:
                table = parquet.read(columns=list(header.file_names), use_threads=True)
        else:
            types = {
                name: pa.dictionary(pa.int32(), pa.string()) if name in keys else pa.string()
                for name in header.file_names
            }
            table = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True
                ),
            )
    except (pa.ArrowException, OSError) as exc:
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        raise ContractError(
            f"{path}: unreadable {kind} file ({_one_line(exc)})", path=path, problem="unreadable file"
        ) from None
    if table.num_rows == 0 and spec.name != "actions":
        what = "no rows" if path.suffix == ".parquet" else "header only, no rows"
        raise ContractError(f"{path}: empty file ({what})", path=path, problem="empty file")
    return table.rename_columns(list(header.names))


def _check_no_money_without_amount(path: Path, types: _Coded, data: DataConfig) -> None:
    """An events file without `amount` may hold no money event: its amount would have to be invented."""
    money = np.isin(types.codes, [data.event_types.index(name) for name in data.money_event_types])
    rows = np.flatnonzero(money)
    if rows.size == 0:
        return
    examples = rows[:EXAMPLE_ROWS]
    values = types.dictionary.take(pa.array(types.indices[examples])).to_pylist()
    shown = ", ".join(f"row {row + 1} (event_type {_show(value)})" for row, value in zip(examples, values))
    which = "row is a money event" if rows.size == 1 else "rows are money events"
    raise ContractError(
        f"{path}: column 'amount': missing, but {rows.size:,} {which} ({', '.join(data.money_event_types)}), "
        f"e.g. {shown}; export the amounts (money is never taken as 0), or map the file's amount column with "
        "data.column_map.events",
        path=path, column="amount", problem="missing column",
        rows=tuple(int(row) + 1 for row in examples), count=int(rows.size),
    )


# ---------------------------------------------------------------------------------------------
# Row level: one screen per table


class _Screen:
    """The rows of one table still in play.

    Strict mode raises at the first rejected row set; lenient mode sets the rows aside (first problem
    wins) and keeps going. Checks always pass masks over all rows; only rows still in play count.
    """

    def __init__(self, path: Path, table: str, raw: pa.Table, header: _Header, *, lenient: bool) -> None:
        self.path = path
        self.table = table
        self.raw = raw
        self.header = header
        self.lenient = lenient
        self.alive = np.ones(raw.num_rows, dtype=bool)
        self.rejected: list[tuple[np.ndarray, str]] = []

    def reject(
        self,
        column: str,
        problem: str,
        bad: np.ndarray,
        *,
        text: str | None = None,
        detail: Callable[[np.ndarray], str] | None = None,
        show: Callable[[np.ndarray], list[str]] | None = None,
    ) -> None:
        """Take the rows in `bad` (and still in play) out, under `problem`; strict mode raises instead.

        `text` is the problem as the message says it (default `problem`), `detail` adds a parenthesis
        about all offending rows, `show` renders the example rows (default: their raw values).
        """
        rows = np.flatnonzero(bad & self.alive)
        if rows.size == 0:
            return
        if not self.lenient:
            examples = rows[:EXAMPLE_ROWS]
            values = show(examples) if show is not None else self.values(column, examples)
            shown = ", ".join(f"row {row + 1} ({value})" for row, value in zip(examples, values))
            extra = f" ({detail(rows)})" if detail is not None else ""
            noun = "row" if rows.size == 1 else "rows"
            raise ContractError(
                f"{self.path}: column {self.header.label(column)}: {text or problem} in {rows.size} {noun}{extra}, "
                f"e.g. {shown}",
                path=self.path, column=column, file_column=self.header.file_column(column), problem=problem,
                rows=tuple(int(row) + 1 for row in examples), count=int(rows.size),
            )
        self.rejected.append((rows, problem))
        self.alive[rows] = False

    def values(self, column: str, rows: np.ndarray) -> list[str]:
        """Raw values of `column` at `rows`, as the user wrote them."""
        return [_show(value) for value in self.raw.column(column).take(pa.array(rows)).to_pylist()]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rows, problem in self.rejected:
            counts[problem] = counts.get(problem, 0) + int(rows.size)
        return counts


def _screen_partners(
    screen: _Screen, data: DataConfig, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray, _Screen]:
    """Checked partners frame, their signup times in UTC nanoseconds (frame order), and the screen."""
    raw = screen.raw
    signup = _parse_timestamps(raw.column("signup_at"))
    _reject_timestamps(screen, "signup_at", signup, required=True)

    ids_text = _as_text(raw.column("partner_id"))
    ids = ids_text.to_numpy(zero_copy_only=False)
    screen.reject("partner_id", "null partner_id", _is_blank(ids_text))
    declared = _reject_declared(screen, raw, data.partner_attributes, large=False)
    screen.reject(
        "partner_id", "duplicate partner_id", _repeats(ids_text, screen.alive),
        show=lambda rows: _show_repeats(ids_text, rows, screen.alive),
    )
    screen.reject(
        "signup_at", "after as-of", signup.ns > as_of.value,
        text=f"signup_at in the future relative to as-of {as_of.isoformat()}",
    )

    keep = np.flatnonzero(screen.alive)
    columns: dict[str, object] = {
        "partner_id": ids[keep].astype(object),
        "signup_at": _utc_array(signup.ns[keep]),
    }
    for name, values in declared.items():
        columns[name] = values[keep]
    return pd.DataFrame(columns, copy=False), signup.ns[keep], screen


def _screen_timed_rows(screen: _Screen, partner_index: pd.Index) -> tuple[_Timestamps, np.ndarray]:
    """The checks events and actions share first: their `ts` column, then null partner ids."""
    ts = _parse_timestamps(screen.raw.column("ts"))
    _reject_timestamps(screen, "ts", ts, required=True)
    partner_codes = _lookup_codes(screen.raw.column("partner_id"), partner_index)
    screen.reject("partner_id", "null partner_id", partner_codes == -2)
    return ts, partner_codes


def _screen_events(
    screen: _Screen,
    data: DataConfig,
    types: _Coded,
    partner_index: pd.Index,
    signup_ns: np.ndarray,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, str | None, _Screen]:
    """Checked events frame, sorted by partner then time, the money events' currency, and the screen."""
    raw = screen.raw
    ts, partner_codes = _screen_timed_rows(screen, partner_index)

    type_codes = types.codes
    money = np.isin(type_codes, [data.event_types.index(name) for name in data.money_event_types])
    event_types = raw.column("event_type")
    amount: _Numbers | None = None
    if "amount" in raw.column_names:
        amount = _parse_numbers(raw.column("amount"))
        screen.reject("amount", "non-numeric amount", amount.bad)
        screen.reject(
            "amount", "missing amount", amount.missing & money,
            text="missing amount",
            detail=lambda rows: f"required for money event types: {', '.join(data.money_event_types)}",
            show=lambda rows: [
                f"empty amount, event_type {_show(value)}" for value in event_types.take(pa.array(rows)).to_pylist()
            ],
        )
        screen.reject("amount", "negative amount", amount.values < 0)
    screen.reject("event_type", "null event_type", type_codes == -2)
    screen.reject(
        "event_type", "unknown event_type", type_codes == -1,
        detail=lambda rows: _unknown_event_types(types, rows, data),
    )
    currencies: tuple[np.ndarray, list[str]] | None = None
    if "currency" in raw.column_names:
        currencies = _reject_currencies(screen, raw.column("currency"), money, data)
    declared = _reject_declared(screen, raw, data.event_extra_columns, large=True)
    _reject_unknown_partners(screen, raw.column("partner_id"), partner_codes)
    if "event_id" in raw.column_names:
        event_ids = raw.column("event_id")
        screen.reject(
            "event_id", "duplicate event_id", _repeats(event_ids, screen.alive),
            show=lambda rows: _show_repeats(event_ids, rows, screen.alive),
        )
    _reject_outside_lifetime(screen, ts.ns, partner_codes, partner_index, signup_ns, as_of)

    currency: str | None = None
    if currencies is not None:
        kept = currencies[0][screen.alive & money]  # by now, all in one currency
        currency = currencies[1][kept[0]] if kept.size else None

    rows = _partner_time_rows(screen.alive, partner_codes, ts.ns, len(partner_index))
    columns: dict[str, object] = {
        "partner_id": _categorical(partner_codes[rows], partner_index),
        "ts": _utc_array(ts.ns[rows]),
        "event_type": _categorical(type_codes[rows], pd.Index(data.event_types, dtype=object)),
        "amount": (
            np.zeros(int(np.count_nonzero(screen.alive))) if amount is None
            else np.where(amount.missing[rows], 0.0, amount.values[rows])
        ),
    }
    if "event_id" in raw.column_names:
        columns["event_id"] = _id_values(raw.column("event_id"), rows)
    for name, values in declared.items():
        columns[name] = values[rows]
    return pd.DataFrame(columns, copy=False), currency, screen


def _screen_actions(
    screen: _Screen,
    data: DataConfig,
    partner_index: pd.Index,
    signup_ns: np.ndarray,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, _Screen]:
    """Checked actions frame, sorted like events, and the screen."""
    raw = screen.raw
    ts, partner_codes = _screen_timed_rows(screen, partner_index)
    action_text = _as_text(raw.column("action"))
    screen.reject("action", "null action", _is_blank(action_text))
    declared = _reject_declared(screen, raw, data.action_extra_columns, large=False)
    _reject_unknown_partners(screen, raw.column("partner_id"), partner_codes)
    _reject_outside_lifetime(screen, ts.ns, partner_codes, partner_index, signup_ns, as_of)

    rows = _partner_time_rows(screen.alive, partner_codes, ts.ns, len(partner_index))
    columns: dict[str, object] = {
        "partner_id": _categorical(partner_codes[rows], partner_index),
        "ts": _utc_array(ts.ns[rows]),
        "action": action_text.to_numpy(zero_copy_only=False)[rows].astype(object),
    }
    for name, values in declared.items():
        columns[name] = values[rows]
    return pd.DataFrame(columns, copy=False), screen


def _reject_timestamps(
    screen: _Screen, column: str, parsed: _Timestamps, *, required: bool, label: str = ""
) -> None:
    """Missing (when required), unparseable, then naive values in a column where others carry a zone."""
    prefix = f"{label} " if label else ""
    if required:
        screen.reject(column, f"{prefix}missing timestamp", parsed.missing, text="missing timestamp")
    screen.reject(
        column, f"{prefix}unparseable timestamp", parsed.bad,
        text="unparseable timestamp",
        detail=lambda rows: (
            "expected ISO 8601 like 2025-03-01, 2025-03-01 14:05 or 2025-03-01T14:05:00+02:00, years 1680-2261"
        ),
    )
    aware = int(np.count_nonzero(parsed.aware & screen.alive))
    if aware:
        screen.reject(
            column, f"{prefix}mixed time zones", parsed.naive,
            text="mixed time zones",
            detail=lambda rows: (
                f"these have no zone or offset while {aware} {'row has' if aware == 1 else 'rows have'} one"
            ),
        )


def _reject_declared(
    screen: _Screen, raw: pa.Table, declared: Mapping[str, ColumnType], *, large: bool
) -> dict[str, object]:
    """Cast each declared column present (in file order), rejecting values that do not cast.

    Returns the cast columns by name; a declared column absent from the file is simply not there.
    """
    converted: dict[str, object] = {}
    for name in raw.column_names:
        if name not in declared:
            continue
        kind, column = declared[name], raw.column(name)
        if kind == "timestamp":
            parsed = _parse_timestamps(column)
            _reject_timestamps(screen, name, parsed, required=False, label=name)
            converted[name] = _utc_array(parsed.ns)
        elif kind == "float":
            numbers = _parse_numbers(column)
            screen.reject(name, f"{name} not a float", numbers.bad, text="not a number")
            converted[name] = numbers.values
        elif kind == "integer":
            values, missing, bad = _parse_integers(column)
            screen.reject(name, f"{name} not an integer", bad, text="not an integer")
            converted[name] = pd.arrays.IntegerArray(values, missing | bad)
        elif kind == "boolean":
            values, missing, bad = _parse_booleans(column)
            screen.reject(
                name, f"{name} not a boolean", bad, text="not a boolean",
                detail=lambda rows: "expected true/false, yes/no or 1/0",
            )
            converted[name] = pd.arrays.BooleanArray(values, missing | bad)
        else:
            text = _as_text(column)
            converted[name] = (
                pd.arrays.ArrowStringArray(text) if large else text.to_numpy(zero_copy_only=False).astype(object)
            )
    return converted


def _reject_unknown_partners(screen: _Screen, raw_ids: pa.ChunkedArray, codes: np.ndarray) -> None:
    """Rows whose partner_id is not among the (kept) partners."""
    screen.reject(
        "partner_id", "unknown partner", codes == -1,
        detail=lambda rows: f"{_distinct_count(raw_ids, rows)} distinct partner_id values not in partners",
    )


def _reject_currencies(
    screen: _Screen, column: pa.ChunkedArray, money: np.ndarray, data: DataConfig
) -> tuple[np.ndarray, list[str]]:
    """Money events without a currency, then money events in another currency than most of them.

    Returns each row's currency code (-2 when blank) and the currencies, trimmed and upper case.
    Mixing money in several currencies would add euros to dollars, so it is never let through.
    """
    names: list[str] = []

    def lookup(dictionary: pa.Array) -> np.ndarray:
        folded = pc.utf8_upper(pc.utf8_trim_whitespace(dictionary)).to_numpy(zero_copy_only=False)
        codes, uniques = pd.factorize(np.where(folded == "", None, folded))
        names.extend(str(name) for name in uniques)
        return np.where(codes == -1, -2, codes)

    codes = _encode(column, lookup).codes  # a position in names, -2 when blank
    event_types = screen.raw.column("event_type")
    screen.reject(
        "currency", "missing currency", money & (codes == -2),
        detail=lambda rows: (
            f"required on money events ({', '.join(data.money_event_types)}) when the file has a currency column; "
            "other events may leave it empty"
        ),
        show=lambda rows: [
            f"empty currency, event_type {_show(value)}" for value in event_types.take(pa.array(rows)).to_pylist()
        ],
    )
    counted = codes[screen.alive & money & (codes >= 0)]
    counts = np.bincount(counted, minlength=len(names))
    used = sorted(np.flatnonzero(counts), key=lambda code: (-counts[code], names[code]))
    if len(used) > 1:
        main = used[0]
        listed = ", ".join(f"{names[code]} {counts[code]:,} {_rows(counts[code])}" for code in used[:10])
        more = f" and {len(used) - 10} more" if len(used) > 10 else ""
        screen.reject(
            "currency", "other currency", money & (codes >= 0) & (codes != main),
            text=f"other currency than {names[main]}",
            detail=lambda rows: (
                f"money events in {len(used)} currencies: {listed}{more}; one program has one currency: "
                "convert the amounts, or load each currency as its own program"
            ),
        )
    return codes, names


def _check_quarantine_share(screen: _Screen, bar: float, folder: Path) -> None:
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
        path=screen.path, problem="too many rows set aside", count=set_aside,
    )


def _reject_outside_lifetime(
    screen: _Screen,
    ts_ns: np.ndarray,
    codes: np.ndarray,
    partner_index: pd.Index,
    signup_ns: np.ndarray,
    as_of: pd.Timestamp,
) -> None:
    """Rows dated before their partner signed up, then rows dated after `as_of`."""
    known = codes >= 0
    before = np.zeros(len(codes), dtype=bool)
    before[known] = ts_ns[known] < signup_ns[codes[known]]

    def show_before(rows: np.ndarray) -> list[str]:
        return [
            f"partner {partner_index[codes[row]]}: ts {_iso(ts_ns[row])} < signup_at {_iso(signup_ns[codes[row]])}"
            for row in rows
        ]

    screen.reject("ts", "before signup", before, text="timestamp before the partner's signup_at", show=show_before)
    screen.reject(
        "ts", "after as-of", ts_ns > as_of.value,
        text=f"timestamp in the future relative to as-of {as_of.isoformat()}",
    )


# ---------------------------------------------------------------------------------------------
# Column conversions: arrow column in, numpy out, no I/O


def _parse_timestamps(column: pa.ChunkedArray) -> _Timestamps:
    """UTC nanoseconds of a timestamp column (NaT where missing or bad) and the row masks."""
    n = len(column)
    column = _decoded(column)
    kind = column.type
    none = np.zeros(n, dtype=bool)
    if pa.types.is_null(kind):
        return _Timestamps(np.full(n, _NAT, dtype=np.int64), np.ones(n, dtype=bool), none, none, none)
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        if pa.types.is_timestamp(kind):
            factor = _NS_PER_UNIT[kind.unit]
            raw = pc.cast(column, pa.int64())
        elif pa.types.is_date32(kind):
            factor, raw = 86_400 * 10**9, pc.cast(column, pa.int32()).cast(pa.int64())
        else:
            factor, raw = 10**6, pc.cast(column, pa.int64())
        missing = _mask(pc.is_null(raw))
        ns = np.array(_filled(raw, 0, np.int64), dtype=np.int64, copy=True)
        bad = ~missing & ((ns < _MIN_NS // factor) | (ns > _MAX_NS // factor))
        if factor != 1:
            ns *= factor
        ns[missing | bad] = _NAT
        return _Timestamps(ns, missing, bad, none, none)

    missing = _is_blank(column)
    naive = _mask(pc.match_substring_regex(column, _NAIVE_TIMESTAMP))
    aware = _mask(pc.match_substring_regex(column, _AWARE_TIMESTAMP))
    ns = np.full(n, _NAT, dtype=np.int64)
    for selected, arrow_type in ((naive, pa.timestamp("ns")), (aware, pa.timestamp("ns", "UTC"))):
        if not selected.any():
            continue
        try:
            values = _cast_selected(column, selected, arrow_type)
        except pa.ArrowInvalid:
            selected &= ~_impossible_dates(column, selected)
            values = _cast_selected(column, selected, arrow_type)
        ns[selected] = values[selected]
    bad = ~missing & ~naive & ~aware
    return _Timestamps(ns, missing, bad, naive, aware)


def _cast_selected(column: pa.ChunkedArray, selected: np.ndarray, arrow_type: pa.DataType) -> np.ndarray:
    """Nanoseconds of the `selected` rows (others NaT): arrow's ISO 8601 parser on well-formed text."""
    subset = column if selected.all() else pc.if_else(pa.array(selected), column, None)
    return _filled(pc.cast(pc.cast(subset, arrow_type), pa.int64()), _NAT, np.int64)


def _impossible_dates(column: pa.ChunkedArray, selected: np.ndarray) -> np.ndarray:
    """Rows among `selected` (well-formed timestamps) whose day does not exist, e.g. 2025-02-30.

    The format check cannot see this; it is worked out only when arrow refused a well-formed value.
    """
    dates = pc.if_else(pa.array(selected), column, "2000-01-01")
    day = _filled(pc.cast(pc.utf8_slice_codeunits(dates, 8, 10), pa.int8()), 1, np.int8)
    doubtful = selected & (day >= 29)
    if not doubtful.any():
        return np.zeros(len(selected), dtype=bool)
    head = pc.if_else(pa.array(doubtful), column, "2000-01-01")
    year = _filled(pc.cast(pc.utf8_slice_codeunits(head, 0, 4), pa.int32()), 2000, np.int32)
    month = _filled(pc.cast(pc.utf8_slice_codeunits(head, 5, 7), pa.int32()), 1, np.int32)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[month - 1] + ((month == 2) & leap)
    return doubtful & (day > month_days)


def _parse_numbers(column: pa.ChunkedArray) -> _Numbers:
    """float64 values (NaN where missing or bad); text must look like 12.5, -3, 1e3 (decimal point)."""
    n = len(column)
    column = _decoded(column)
    if pa.types.is_null(column.type):
        return _Numbers(np.full(n, np.nan), np.ones(n, dtype=bool), np.zeros(n, dtype=bool))
    if _is_text_type(column.type):
        missing = _is_blank(column)
        well_formed = _mask(pc.match_substring_regex(column, _NUMBER))
        subset = column if well_formed.all() else pc.if_else(pa.array(well_formed), column, None)
        values = _filled(pc.cast(subset, pa.float64()), np.nan, np.float64)
        bad = ~missing & ~(well_formed & np.isfinite(values))
    else:
        missing = _mask(pc.is_null(column, nan_is_null=True))
        values = _filled(pc.cast(column, pa.float64()), np.nan, np.float64)
        bad = ~missing & ~np.isfinite(values)
    values = np.where(bad, np.nan, values)
    return _Numbers(values, missing, bad)


def _parse_integers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int64 values, missing mask, bad mask; floats must be whole numbers."""
    n = len(column)
    column = _decoded(column)
    if pa.types.is_integer(column.type):
        missing = _mask(pc.is_null(column))
        return _filled(pc.cast(column, pa.int64()), 0, np.int64), missing, np.zeros(n, dtype=bool)
    if _is_text_type(column.type):
        missing = _is_blank(column)
        well_formed = _mask(pc.match_substring_regex(column, _INTEGER))
        subset = column if well_formed.all() else pc.if_else(pa.array(well_formed), column, None)
        return _filled(pc.cast(subset, pa.int64()), 0, np.int64), missing, ~missing & ~well_formed
    numbers = _parse_numbers(column)
    values = numbers.values
    whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**62)
    bad = numbers.bad | (~numbers.missing & ~whole)
    return np.where(whole, numbers.values, 0).astype(np.int64), numbers.missing, bad


def _parse_booleans(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bool values, missing mask, bad mask; text true/false, t/f, yes/no, y/n, 1/0 in any case."""
    n = len(column)
    column = _decoded(column)
    if pa.types.is_null(column.type):
        return np.zeros(n, dtype=bool), np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    if pa.types.is_boolean(column.type):
        return _filled(column, False, bool), _mask(pc.is_null(column)), np.zeros(n, dtype=bool)
    missing = _is_blank(column) if _is_text_type(column.type) else _mask(pc.is_null(column))
    text = pc.utf8_lower(column) if _is_text_type(column.type) else pc.cast(column, pa.string())
    true = _mask(pc.is_in(text, value_set=pa.array(_TRUE)))
    false = _mask(pc.is_in(text, value_set=pa.array(_FALSE)))
    return true, missing, ~missing & ~true & ~false


def _encode(column: pa.ChunkedArray, lookup: Callable[[pa.Array], np.ndarray]) -> _Coded:
    """The column as positions in its dictionary of distinct values, and `lookup`'s meaning of each row.

    `lookup` maps the dictionary (strings) to int32 codes, -1 for unknown; null and empty values get -2.
    Working on the dictionary (one entry per distinct value) makes tens of millions of rows cost one
    gather, not a string comparison each.
    """
    n = len(column)
    if pa.types.is_null(column.type) or n == 0:
        code = -2 if n else 0
        return _Coded(pa.array([], pa.string()), np.full(n, -1, np.int32), np.full(n, code, np.int32))
    if pa.types.is_dictionary(column.type):
        encoded = column.unify_dictionaries()
    else:
        # one chunk: encoding a chunked array gives every chunk the whole dictionary seen so far
        encoded = pa.chunked_array([pc.dictionary_encode(column.combine_chunks())])
    dictionary = encoded.chunk(0).dictionary
    if not pa.types.is_string(dictionary.type):
        dictionary = dictionary.cast(pa.string())
    indices = np.concatenate(
        [_filled(pc.cast(chunk.indices, pa.int32()), -1, np.int32) for chunk in encoded.chunks]
    )
    meaning = np.asarray(lookup(dictionary), dtype=np.int32)
    meaning[_is_blank(pa.chunked_array([dictionary]))] = -2
    return _Coded(dictionary, indices, np.append(meaning, np.int32(-2))[indices])


def _lookup_codes(column: pa.ChunkedArray, keys: pd.Index) -> np.ndarray:
    """Each row's position in `keys` (int32): -1 when its value is not there, -2 when null or empty."""
    return _encode(column, lambda dictionary: keys.get_indexer(dictionary.to_numpy(zero_copy_only=False))).codes


def _event_type_codes(column: pa.ChunkedArray, data: DataConfig) -> _Coded:
    """Each row's position in data.event_types, by `DataConfig.event_type_of` of each distinct value (a
    file holds a handful of distinct event types, so the rule is applied to its dictionary, not per row)."""
    position = {name: i for i, name in enumerate(data.event_types)}

    def lookup(dictionary: pa.Array) -> np.ndarray:
        words = (data.event_type_of(str(value)) for value in dictionary.to_pylist())
        return np.fromiter((position.get(word, -1) if word is not None else -1 for word in words), np.int32, len(dictionary))

    return _encode(column, lookup)


def _fold_event_types(values: pa.Array) -> pa.Array:
    """Event types as compared under event_type_case_insensitive (DataConfig.fold_event_type, columnar)."""
    return pc.utf8_lower(pc.utf8_trim_whitespace(values))


def _repeats(values: pa.ChunkedArray, among: np.ndarray) -> np.ndarray:
    """Rows in `among` whose non-null value already occurred in an earlier row in `among`.

    A stable sort puts equal values next to each other in row order, so every member of a run but
    its first is a repeat. Sorting needs a few bytes a row where hashing tens of millions of distinct
    ids (the usual event_id) would need over a hundred.
    """
    repeated = np.zeros(len(values), dtype=bool)
    rows = np.flatnonzero(among)
    if rows.size < 2:
        return repeated
    subset = _decoded(values if rows.size == len(values) else values.take(pa.array(rows)))
    order = pc.sort_indices(subset)
    ordered = subset.take(order)
    same_as_previous = _mask(pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1)))
    later = order.to_numpy()[1:][same_as_previous]
    repeated[rows[later]] = True
    return repeated


def _partner_time_rows(
    alive: np.ndarray, codes: np.ndarray, ts_ns: np.ndarray, partners: int
) -> np.ndarray | slice:
    """Rows to keep, in (partner, ts) order, stable; `slice(None)` when that is every row as it is.

    Sorting by time and then, stably, by partner in 16-bit radix passes takes about half the time of
    a lexsort on tens of millions of rows. Input already in order, with nothing set aside, is neither
    sorted nor copied.
    """
    everything = bool(alive.all())
    rows = None if everything else np.flatnonzero(alive)
    c, t = (codes, ts_ns) if rows is None else (codes[rows], ts_ns[rows])
    if c.size < 2 or bool(np.all((c[1:] > c[:-1]) | ((c[1:] == c[:-1]) & (t[1:] >= t[:-1])))):
        return slice(None) if rows is None else rows
    order = np.argsort(t, kind="stable")
    c = c[order]
    for shift in (0, 16) if partners > 1 << 16 else (0,):
        step = np.argsort(((c >> shift) & 0xFFFF).astype(np.uint16), kind="stable")
        order, c = order[step], c[step]
    return order if rows is None else rows[order]


# ---------------------------------------------------------------------------------------------
# Small helpers


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column with any dictionary encoding undone (value checks work on plain values)."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column as arrow strings: integers become their decimal text, nothing is stripped."""
    column = _decoded(column)
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


def _is_text_type(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _is_blank(column: pa.ChunkedArray) -> np.ndarray:
    """Null, or empty text (a Parquet "" means the same as an empty CSV field)."""
    blank = pc.is_null(column)
    if _is_text_type(column.type):
        blank = pc.or_(blank, pc.fill_null(pc.equal(column, ""), False))
    return _mask(blank)


def _mask(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return _filled(column, False, bool)


def _filled(column: pa.ChunkedArray | pa.Array, fill: object, dtype: type | np.dtype) -> np.ndarray:
    """A numpy array of the column with nulls replaced by `fill`."""
    if column.null_count:
        column = pc.fill_null(column, fill)
    array = column.to_numpy() if isinstance(column, pa.ChunkedArray) else column.to_numpy(zero_copy_only=False)
    return np.asarray(array, dtype=dtype)


def _categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories, ordered=False))


def _utc_array(ns: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.array(ns.view("M8[ns]")).tz_localize("UTC")


def _id_values(column: pa.ChunkedArray, rows: np.ndarray | slice) -> object:
    """event_id as read: integers stay integers, text becomes `string[pyarrow]` (no Python objects)."""
    column = _decoded(column)
    if pa.types.is_integer(column.type):
        values, missing = _filled(column, 0, np.int64), _mask(pc.is_null(column))
        return pd.arrays.IntegerArray(values[rows], missing[rows]) if missing.any() else values[rows].copy()
    text = _as_text(column)
    return pd.arrays.ArrowStringArray(text if isinstance(rows, slice) else text.take(pa.array(rows)))


def _as_utc(moment: pd.Timestamp) -> pd.Timestamp:
    moment = pd.Timestamp(moment)
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def _iso(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").isoformat()


def _show(value: object) -> str:
    """One value as it goes into a one-line message."""
    if value is None:
        return "empty"
    if hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = str(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= 60 else text[:57] + "..."


def _show_repeats(values: pa.ChunkedArray, rows: np.ndarray, alive: np.ndarray) -> list[str]:
    """Each repeated value with the row of its first (kept) occurrence."""
    values = _decoded(values)
    shown = []
    for row in rows:
        value = values[int(row)]
        first = int(np.flatnonzero(_mask(pc.equal(values, value)) & alive)[0])
        shown.append(f"{_show(value.as_py())}, first in row {first + 1}")
    return shown


def _unknown_event_types(types: _Coded, rows: np.ndarray, data: DataConfig) -> str:
    """The unknown values with their rows, most frequent first, and how to make them known."""
    counts = np.bincount(types.indices[rows], minlength=len(types.dictionary))
    values = types.dictionary.to_pylist()
    seen = sorted(np.flatnonzero(counts), key=lambda i: (-counts[i], str(values[i])))
    listed = ", ".join(f"{str(values[i])!r} {counts[i]:,} {_rows(counts[i])}" for i in seen[:10])
    more = f" and {len(seen) - 10} more" if len(seen) > 10 else ""
    hint = (
        "map them to the vocabulary with data.event_type_map (file value: event type), or add them to data.event_types"
    )
    if not data.event_type_case_insensitive:
        known = pa.array([*data.event_types, *data.event_type_map], pa.string())
        unknown = pa.array([str(values[i]) for i in seen], pa.string())
        near = pc.filter(unknown, pc.is_in(_fold_event_types(unknown), _fold_event_types(known))).to_pylist()
        if near:
            others = " and others" if len(near) > 1 else ""
            hint += f"; {near[0]!r}{others} would match ignoring case with data.event_type_case_insensitive: true"
    return f"values not in data.event_types: {listed}{more}; {hint}"


def _rows(count: int) -> str:
    return "row" if count == 1 else "rows"


def _distinct_count(column: pa.ChunkedArray, rows: np.ndarray) -> int:
    return len(pc.unique(_decoded(column.take(pa.array(rows)))))


def _columns_phrase(names: list[str]) -> str:
    quoted = ", ".join(f"'{name}'" for name in names)
    return f"column {quoted}" if len(names) == 1 else f"columns {quoted}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


# ---------------------------------------------------------------------------------------------
# Output I/O: the quarantine files


def _write_quarantine(folder: Path, screens: list[_Screen]) -> None:
    """Write each table's set-aside rows (as read, plus `row` and `problem`), ordered by row.

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
        codes = np.concatenate(
            [np.full(rejected.size, names.index(problem), dtype=np.int32) for rejected, problem in screen.rejected]
        )
        order = np.argsort(rows, kind="stable")
        rows, codes = rows[order], codes[order]
        subset = screen.raw.take(pa.array(rows))
        problems = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names, pa.string())).dictionary_decode()
        table = pa.table(
            [_decoded(subset.column(i)) for i in range(subset.num_columns)]
            + [pa.array(rows + 1, pa.int64()), problems],
            names=list(screen.header.file_names) + ["row", "problem"],
        )
        pacsv.write_csv(table, target)
