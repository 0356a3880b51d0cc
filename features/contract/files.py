"""File level: find each table's one file, check its header (or Parquet footer), read it.

The only input I/O of the contract. Every check here needs no more than the header, except the two
after reading: a required table has rows, and an events file without `amount` holds no money event.
These raise in lenient mode too: a file that fails them has no rows worth setting aside.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.contract.errors import EXAMPLE_ROWS, ContractError, RowPlaces, show_value
from features.contract.parsing import CodedColumn
from partner_churn.config import ColumnType, DataConfig

TABLES = tuple(DataConfig.contract_columns())
"""Input tables, in the order they are checked."""

REQUIRED_COLUMNS = {
    "partners": ("partner_id", "signup_at"),
    "events": ("partner_id", "ts", "event_type"),
    "actions": ("partner_id", "ts", "action"),
    "surveys": ("partner_id", "ts", "score"),
}
"""The contract columns each table must have; its other contract columns are optional."""
OPTIONAL_TABLES = ("actions", "surveys")
"""Tables a program may lack: without `actions` nothing is measured, without `surveys` there is no NPS."""


@dataclass(frozen=True)
class TableSpec:
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
class TableHeader:
    """A table's columns as the file names them and as the contract does (data.column_map applied), in file order."""

    file_names: tuple[str, ...]
    names: tuple[str, ...]

    def file_column(self, name: str) -> str:
        return self.file_names[self.names.index(name)] if name in self.names else name

    def label(self, name: str) -> str:
        """`'ts'`, or `'ts' (file column 'created_at')` when the file calls it otherwise."""
        file_name = self.file_column(name)
        return f"'{name}'" if file_name == name else f"'{name}' (file column '{file_name}')"


def table_specs(data: DataConfig) -> dict[str, TableSpec]:
    """What the contract, under this config, requires of each table's columns."""
    declared_in = {
        "partners": "data.partner_attributes",
        "events": "data.event_extra_columns",
        "actions": "data.action_extra_columns",
        "surveys": "data.survey_extra_columns",
    }
    keys = {"partners": (), "events": ("partner_id", "event_type", "currency"), "actions": ("partner_id",), "surveys": ("partner_id",)}
    return {
        name: TableSpec(
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


def locate_table_file(data_dir: Path, table: str, *, required: bool) -> Path | None:
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


def inspect_header(path: Path, spec: TableSpec) -> TableHeader:
    """The columns to read, after the checks that need only the header (or Parquet footer)."""
    if path.is_file() and path.stat().st_size == 0:
        raise ContractError(f"{path}: empty file (zero bytes)", path=path, problem="empty file")
    schema: pa.Schema | None = None
    if path.suffix == ".parquet":
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as exc:
            raise ContractError(f"{path}: unreadable Parquet file ({_one_line(exc)})", path=path, problem="unreadable file") from None
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
        raise ContractError(f"{path}: unreadable CSV file ({_one_line(exc)})", path=path, problem="unreadable file") from None
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


def _apply_column_map(path: Path, file_names: list[str], spec: TableSpec) -> TableHeader:
    """The header under the contract's names; every file column the map names must be there."""
    absent = [file_name for file_name in spec.renames if file_name not in file_names]
    if absent:
        labels = ", ".join(f"'{spec.renames[name]}' (file column '{name}')" for name in absent)
        many = len(absent) > 1
        raise ContractError(
            f"{path}: column{'s' if many else ''} {labels}: not in the file, though data.column_map.{spec.name} "
            f"names {'them' if many else 'it'} (columns found: {', '.join(file_names)})",
            path=path,
            column=spec.renames[absent[0]],
            file_column=absent[0],
            problem="missing column",
        )
    return TableHeader(tuple(file_names), tuple(spec.renames.get(name, name) for name in file_names))


def _check_names(path: Path, header: TableHeader, spec: TableSpec) -> None:
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
            f"{path}: column{'s' if many else ''} {', '.join(labels)}: duplicate column name (columns found: {found}{mapping})",
            path=path,
            column=repeated[0],
            file_column=header.file_column(repeated[0]),
            problem="duplicate column",
        )
    missing = [name for name in spec.required if name not in names]
    if missing:
        many = len(missing) > 1
        raise ContractError(
            f"{path}: {_columns_phrase(missing)}: missing required column{'s' if many else ''} "
            f"(columns found: {found}; a file column of another name can be mapped to "
            f"{'them' if many else 'it'} with data.column_map.{spec.name})",
            path=path,
            column=missing[0],
            problem="missing column",
        )
    extra = [name for name in names if name not in spec.allowed]
    if extra:
        them = "them" if len(extra) > 1 else "it"
        raise ContractError(
            f"{path}: {_columns_phrase(extra)}: undeclared extra column{'s' if len(extra) > 1 else ''} "
            f"(declare {them} with a type under {spec.declared_in}, map {them} to a column of the contract with "
            f"data.column_map.{spec.name}, or remove {them}; allowed here: {', '.join(spec.allowed)})",
            path=path,
            column=extra[0],
            problem="undeclared column",
        )


def _column_kind(spec: TableSpec, name: str) -> str:
    """How a column is read: a contract column's own kind, or a declared column's type."""
    contract = {
        "partner_id": "key",
        "event_type": "key",
        "signup_at": "timestamp",
        "ts": "timestamp",
        "amount": "float",
        "event_id": "id",
        "action": "string",
        "currency": "key",
        "score": "float",
        "comment": "string",
    }
    if name in spec.declared:
        return spec.declared[name]
    return contract[name]


def _check_parquet_type(path: Path, header: TableHeader, name: str, arrow_type: pa.DataType, kind: str) -> None:
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
        "string": not (pa.types.is_nested(value_type) or pa.types.is_binary(value_type) or pa.types.is_large_binary(value_type)),
    }[kind]
    if not (accepted or is_null):
        wanted = {
            "key": "text or integers",
            "id": "text or integers",
            "timestamp": "timestamps, dates or text",
            "float": "numbers or text",
            "integer": "integers or text",
            "boolean": "booleans, 0/1 or text",
            "string": "text or plain values",
        }[kind]
        raise ContractError(
            f"{path}: column {header.label(name)}: wrong Parquet type {arrow_type} (expected {wanted})",
            path=path,
            column=name,
            file_column=header.file_column(name),
            problem="wrong type",
        )


def read_table(path: Path, spec: TableSpec, header: TableHeader, *, allow_empty: bool = False) -> pa.Table:
    """The table's columns as stored (CSV: all text) under the contract's names, then the check that it has rows
    (not for one part of a partitioned table, `allow_empty`: a partition may hold no partner)."""
    keys = [file_name for file_name, name in zip(header.file_names, header.names) if name in spec.keys]
    try:
        if path.suffix == ".parquet":
            with pq.ParquetFile(path, read_dictionary=keys) as parquet:
                table = parquet.read(columns=list(header.file_names), use_threads=True)
        else:
            types = {name: pa.dictionary(pa.int32(), pa.string()) if name in keys else pa.string() for name in header.file_names}
            table = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True),
            )
    except (pa.ArrowException, OSError) as exc:
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        raise ContractError(f"{path}: unreadable {kind} file ({_one_line(exc)})", path=path, problem="unreadable file") from None
    if table.num_rows == 0 and spec.name not in OPTIONAL_TABLES and not allow_empty:  # an optional table's header alone: none of them
        what = "no rows" if path.suffix == ".parquet" else "header only, no rows"
        raise ContractError(f"{path}: empty file ({what})", path=path, problem="empty file")
    return table.rename_columns(list(header.names))


def check_no_money_without_amount(path: Path, types: CodedColumn, data: DataConfig, places: RowPlaces | None = None) -> None:
    """An events file without `amount` may hold no money event: its amount would have to be invented."""
    places = places or RowPlaces()
    money = np.isin(types.codes, [data.event_types.index(name) for name in data.money_event_types])
    rows = np.flatnonzero(money)
    if rows.size == 0:
        return
    examples = rows[:EXAMPLE_ROWS]
    values = types.dictionary.take(pa.array(types.indices[examples])).to_pylist()
    shown = ", ".join(f"{places.name(int(row))} (event_type {show_value(value)})" for row, value in zip(examples, values))
    which = "row is a money event" if rows.size == 1 else "rows are money events"
    raise ContractError(
        f"{path}: column 'amount': missing, but {rows.size:,} {which} ({', '.join(data.money_event_types)}), "
        f"e.g. {shown}; export the amounts (money is never taken as 0), or map the file's amount column with "
        "data.column_map.events",
        path=path,
        column="amount",
        problem="missing column",
        rows=tuple(int(row) + 1 for row in examples),
        count=int(rows.size),
    )


def _columns_phrase(names: list[str]) -> str:
    quoted = ", ".join(f"'{name}'" for name in names)
    return f"column {quoted}" if len(names) == 1 else f"columns {quoted}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
