"""A program stored in partitions of whole partners, for `--engine dask` (and readable whole by the local engine).

Layout of a partitioned data folder:

    <data_dir>/partitions.json                       {"partitions": N, "scheme": ..., "tables": [...]}
    <data_dir>/<table>/part-00000.parquet ... part-<N-1>.parquet   for partners, events, actions, surveys

Every table that is there has all N part files (an empty part is a file with the header and no rows), so
the folders are Parquet datasets any tool reads whole (`pyarrow.dataset`, DuckDB's `read_parquet('.../*.parquet')`,
`dask.dataframe.read_parquet`). A partner's partition is `partition_of(partner_id)`: pandas' `hash_array`
of the id (SipHash with pandas' fixed key, the same on every machine and run) modulo N; every row of a
partner, in every table, is in its partition, so a partition is a program of its own and the contract checks
it alone (an event whose partner is not in its partition's partners is an unknown partner). Rows are sorted
by `partner_id`, then `ts`, inside a partition.

The tables hold the contract's column names and event types (`partner-churn partition` writes them after
loading the user's files through the contract, `data.column_map` and `data.event_type_map` applied), so a
partitioned folder is read without those maps.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.contract.errors import ContractError
from partner_churn.files import part_name, remove_leftovers_of_dead_processes, swap_in_folder

PARTITIONS_FILE = "partitions.json"
SCHEME = "pandas.util.hash_array(partner_id) % partitions"
"""How a partner's partition is found, recorded in `PARTITIONS_FILE`."""
MAX_PARTITIONS = 100_000


def partition_of(partner_ids: np.ndarray | pd.Series | pa.Array | pa.ChunkedArray, partitions: int) -> np.ndarray:
    """The partition (0..partitions-1) of each partner id (text)."""
    if isinstance(partner_ids, (pa.Array, pa.ChunkedArray)):
        partner_ids = partner_ids.to_numpy(zero_copy_only=False)
    ids = np.asarray(partner_ids, dtype=object)
    return (pd.util.hash_array(ids, categorize=True) % np.uint64(partitions)).astype(np.int64)


@dataclass(frozen=True)
class Partitioning:
    """What `PARTITIONS_FILE` says: how many partitions and which tables are stored."""

    partitions: int
    tables: tuple[str, ...]

    def part_file(self, data_dir: Path, table: str, index: int) -> Path:
        return data_dir / table / part_name(index)


def read_partitioning(data_dir: Path) -> Partitioning | None:
    """The folder's partitioning, or None for a plain folder (one file per table); a `ContractError` when
    `PARTITIONS_FILE` is unreadable or a part file it promises is missing."""
    path = Path(data_dir) / PARTITIONS_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        partitions, tables = int(meta["partitions"]), tuple(str(t) for t in meta["tables"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ContractError(f"{path}: unreadable partitions file ({type(exc).__name__}: {exc})", path=path, problem="unreadable file") from None
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise ContractError(f"{path}: partitions must be 1..{MAX_PARTITIONS}, not {partitions}", path=path, problem="unreadable file")
    found = Partitioning(partitions, tables)
    missing = [
        found.part_file(Path(data_dir), t, i) for t in tables for i in range(partitions) if not found.part_file(Path(data_dir), t, i).is_file()
    ]
    if missing:
        shown = ", ".join(str(p) for p in missing[:5])
        raise ContractError(
            f"{data_dir}: partitioned folder lacks {len(missing)} part file(s) that {PARTITIONS_FILE} promises: {shown}",
            path=Path(data_dir),
            problem="missing file",
        )
    return found


def write_partitioned(tables: Mapping[str, pa.Table], out: Path, partitions: int) -> Partitioning:
    """Write each table (a `partner_id` column, and `ts` where the table has it) as `partitions` part files
    under `out`, with `PARTITIONS_FILE`; atomically: into a staging folder beside `out`, which then replaces it."""
    writer = PartitionWriter(out, partitions)
    try:
        writer.add(tables)
        return writer.finish()
    finally:
        writer.discard()


class PartitionWriter:
    """A partitioned folder written from chunks of whole partners, one chunk in memory at a time (a program
    too large to hold whole, e.g. generated chunk by chunk): `add` splits each chunk's tables into their
    partitions' buckets on disk, `finish` sorts each partition's rows and writes its part files, then the
    staging folder replaces `out` in one step. Files beside the tables (a generator's truth) are appended
    to with `append_file`, chunk after chunk, or written into `folder`. `discard` removes what an
    unfinished writer staged (nothing after `finish`)."""

    def __init__(self, out: Path, partitions: int) -> None:
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise ContractError(f"--partitions {partitions}: expected 1..{MAX_PARTITIONS}", path=out, problem="bad option")
        self.out, self.partitions = Path(out), partitions
        if self.out.exists() and (not self.out.is_dir() or (not (self.out / PARTITIONS_FILE).is_file() and any(self.out.iterdir()))):
            raise ContractError(
                f"{self.out}: exists and is not a partitioned data folder; name a new or empty folder", path=self.out, problem="bad option"
            )
        staging = f".{self.out.name}.staging-"
        remove_leftovers_of_dead_processes(self.out.parent, staging)  # of a writer killed before it finished
        self.folder = self.out.parent / f"{staging}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        """Where everything is staged before `finish` moves it into place."""
        self.folder.mkdir(parents=True)
        self.chunks = 0
        self.tables: list[str] = []
        self._files: dict[str, pq.ParquetWriter] = {}

    def add(self, tables: Mapping[str, pa.Table]) -> None:
        """One chunk of whole partners: each table's rows into their partitions' buckets."""
        for name, table in tables.items():
            if name not in self.tables:
                self.tables.append(name)
            ids = table.column("partner_id")
            if pa.types.is_dictionary(ids.type):
                ids = ids.cast(ids.type.value_type)
            table = table.set_column(table.schema.get_field_index("partner_id"), "partner_id", ids)
            encoded = pc.dictionary_encode(ids).combine_chunks()
            part = (
                partition_of(encoded.dictionary, self.partitions)[encoded.indices.to_numpy(zero_copy_only=False)]
                if len(table)
                else np.zeros(0, np.int64)
            )
            order = np.argsort(part, kind="stable")
            bounds = np.searchsorted(part[order], np.arange(self.partitions + 1))
            for index in range(self.partitions):
                bucket = self.folder / ".buckets" / name / str(index)
                bucket.mkdir(parents=True, exist_ok=True)
                pq.write_table(table.take(pa.array(order[bounds[index] : bounds[index + 1]])), bucket / f"{self.chunks:05d}.parquet")
        self.chunks += 1

    def append_file(self, name: str, table: pa.Table) -> None:
        """Append `table` to the single Parquet file `name` beside the tables."""
        if name not in self._files:
            self._files[name] = pq.ParquetWriter(self.folder / name, table.schema)
        self._files[name].write_table(table, row_group_size=2_000_000)

    def finish(self) -> Partitioning:
        """Sort and write every partition's part files, then put the folder in place of `out`."""
        self._close_files()
        for name in self.tables:
            (self.folder / name).mkdir()
            for index in range(self.partitions):
                bucket = self.folder / ".buckets" / name / str(index)
                rows = pa.concat_tables([pq.read_table(path) for path in sorted(bucket.iterdir())], promote_options="default")
                keys = [("partner_id", "ascending")] + ([("ts", "ascending")] if "ts" in rows.column_names else [])
                pq.write_table(rows.take(pc.sort_indices(rows, sort_keys=keys)), self.folder / name / part_name(index), row_group_size=1_000_000)
                shutil.rmtree(bucket)
        shutil.rmtree(self.folder / ".buckets", ignore_errors=True)
        layout = Partitioning(self.partitions, tuple(self.tables))
        meta = {"partitions": self.partitions, "scheme": SCHEME, "tables": list(layout.tables)}
        (self.folder / PARTITIONS_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        swap_in_folder(self.folder, self.out)
        return layout

    def discard(self) -> None:
        self._close_files()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _close_files(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files = {}


def program_tables(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    actions: pd.DataFrame | None,
    surveys: pd.DataFrame | None,
    currency: str | None,
    money_event_types: list[str],
) -> dict[str, pa.Table]:
    """A loaded program's frames as the tables a partitioned folder stores (the contract's names; the
    program's one currency back on its money events, where the contract reads it from)."""
    if currency is not None:
        money = events["event_type"].isin(money_event_types)
        events = events.assign(currency=pd.Series(currency, index=events.index, dtype="string").where(money))
    frames = {"partners": partners, "events": events, "actions": actions, "surveys": surveys}
    return {name: pa.Table.from_pandas(frame, preserve_index=False) for name, frame in frames.items() if frame is not None}
