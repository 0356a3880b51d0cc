"""What every command shares: the Typer app and its sub-apps, the common options, and the helpers that turn
options into a config, a loaded program and a scoring time, and that train and backtest.

The commands live in `commands.main` and `commands.monitor`; both import this module and nothing of each
other's, so neither can be imported before the other is ready. Heavy imports happen inside functions, so
`partner-churn` starts fast.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from partner_churn.config import Config, load_config

app = typer.Typer(
    help="Predict which partners go silent and which are ready to grow; say what to do about each.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.")
app.add_typer(config_app, name="config")
models_app = typer.Typer(help="Registered models and their aliases (champion, challenger).")
app.add_typer(models_app, name="models")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (default: built-in defaults or $PARTNER_CHURN_CONFIG)."),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one config key, e.g. --set labels.horizon_days=45 (repeatable)."),
]


def config_from(path: Path | None, overrides: list[str] | None) -> Config:
    return load_config(path, overrides=overrides or ())


DataOption = Annotated[Path | None, typer.Option("--data", "-d", help="Folder with partners, events and optional actions (default: paths.data_dir).")]
AsOfOption = Annotated[str | None, typer.Option("--as-of", help="Cutoff date or timestamp, UTC (e.g. 2026-07-01); no event may lie after it.")]
LenientOption = Annotated[bool, typer.Option("--lenient", help="Quarantine bad rows to paths.quarantine_dir and go on, instead of stopping.")]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="local (this process) or dask (partitions of whole partners on a Dask cluster: compute.scheduler, or a LocalCluster "
        "of compute.workers); default: compute.engine.",
    ),
]


ENGINES = ("local", "dask")


def config_with_engine(path: Path | None, overrides: list[str] | None, engine: str | None, *, lenient: bool = False) -> Config:
    """The config with `--engine` applied over it (checked like any value); the dask engine does not quarantine."""
    from partner_churn.errors import InputError

    if engine is not None and engine not in ENGINES:
        raise InputError(f"--engine {engine}: expected {' or '.join(ENGINES)}")
    cfg = config_from(path, [*(overrides or []), *([f"compute.engine={engine}"] if engine is not None else [])])
    if cfg.compute.engine == "dask" and lenient:
        raise InputError("--lenient with the dask engine: set the bad rows aside on the local engine first (partner-churn partition --lenient)")
    return cfg


def champions_in_use(cfg: Config) -> str:
    """e.g. 'pair 4: deactivation_risk v3, upgrade_potential none': what score and serve will use."""
    from training.registry import champion_pair

    return champion_pair(cfg).words()


def train_or_backtest(cfg: Config, data: Path | None, lenient: bool, *, register: bool, program=None):  # noqa: ANN001,ANN202
    """Train (with `register`: log, register, gate) or backtest on the configured engine; `program`: the program
    already loaded by the caller (local engine)."""
    from functools import partial

    from synthetic.oracle import oracle_scores
    from training.backtest import backtest_summary
    from training.registry import apply_gate, configure_tracking, log_training_run
    from training.train import train_from

    configure_tracking(cfg)  # fail fast on an unreachable tracking server, before the long work
    folder = data or cfg.paths.data_dir
    say = lambda message: typer.echo(message, err=True)  # noqa: E731
    # A backtest registers nothing, so it skips the final refits.
    oracle = partial(oracle_scores, folder / "latent.parquet", horizon_days=cfg.labels.horizon_days)  # None without latent truth
    with training_source(cfg, data, lenient, say, program=program) as source:
        result = train_from(source, cfg, oracle=oracle, progress=say, refit=register)
        run_id, versions = log_training_run(result, config=cfg, register=register)
        out = cfg.paths.reports_dir / f"backtest-{run_id}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        result.backtest.to_csv(out, index=False)
        typer.echo(backtest_summary(result.backtest))
        typer.echo(f"backtest table: {out}")

        def rerun(champion_config: Config):  # noqa: ANN202 - TrainingResult
            say("gate: the champion's settings differ from this run's: judging its procedure on the same folds")
            return train_from(source, champion_config, progress=None, refit=False)

        decisions = apply_gate(result, versions, config=cfg, rerun=rerun) if register else []
    return decisions, run_id, result.not_trained


@contextmanager
def training_source(cfg: Config, data: Path | None, lenient: bool, say, *, program=None):  # noqa: ANN001,ANN201 - Iterator[TrainingSource]
    """The program as training reads it (`training.source`), for the block: in memory on the local engine, its
    rows built on the cluster on the dask engine (whose client lives as long as the block)."""
    if cfg.compute.engine == "dask":
        from training.partitioned import source_on

        with dask_session(cfg, data, say, "building the training rows") as (client, folder):
            yield source_on(client, folder, utc_now(), cfg)
        return
    from training.source import local_source

    yield local_source(program if program is not None else load_data(cfg, data, None, lenient))


AllowStaleOption = Annotated[
    bool,
    typer.Option(
        "--allow-stale",
        help="Go on even when the data's last event is more than scoring.max_days_after_last_event days before the date "
        "(and, for score, when no partner is active: that scoring is marked so later ones skip it).",
    ),
]


def load_data(cfg: Config, data: Path | None, as_of: str | None, lenient: bool):  # noqa: ANN202 - Program
    from features.contract import load_program

    cutoff = parse_as_of(as_of, "--as-of") if as_of else utc_now()
    program = load_program(data or cfg.paths.data_dir, cfg.data, cutoff, lenient=lenient, quarantine_dir=cfg.paths.quarantine_dir)
    for table, problems in program.quarantined.items():
        for problem, count in problems.items():
            typer.echo(f"quarantined: {table}: {count:,} rows: {problem} -> {cfg.paths.quarantine_dir}", err=True)
    return program


@contextmanager
def dask_session(cfg: Config, data: Path | None, say, doing: str):  # noqa: ANN001,ANN201 - Iterator[(Client, Path)]
    """A Dask client for the block (`compute.*`) and the data folder as the workers see it (the same absolute
    path); `say` tells on what cluster `doing` runs."""
    from partner_churn.compute import dask_client, describe_client

    folder = (data or cfg.paths.data_dir).absolute()
    with dask_client(cfg.compute) as client:
        say(f"{doing} on {describe_client(client)}")
        yield client, folder


def scored_program(cfg: Config, data: Path | None, lenient: bool, cutoff, actions, *, allow_stale: bool, step, then, staging):  # noqa: ANN001,ANN202
    """The program scored at `cutoff` on the configured engine, with `then()` (the models) called once the data's
    dates are checked: (risk list, owner-KPI facts (`serving.kpis.EventFacts`), models, previous scoring).

    The local engine returns the whole risk list. The dask engine scores partition by partition
    (`serving.partitioned.score_on`), writes the risk list as parts into `staging` (a `scoring_staging`) and
    returns its summary (`serving.batch.summary_rows`), which is what the report and the top files need."""
    from features.pipeline import build_features
    from partner_churn.domain import check_scoring_date, event_span
    from serving.batch import score_features
    from serving.history import previous_scoring
    from serving.kpis import combine_kpi_parts, kpi_part

    def scoring(models, count: str) -> None:  # noqa: ANN001 - ScoringModels
        step(f"scoring {count} with {models.version_label(cfg)}")

    previous = previous_scoring(cfg.paths.output_dir, cutoff.normalize())
    if cfg.compute.engine == "dask":
        from serving.outputs import CONSOLE_TOP, write_risk_list_part
        from serving.partitioned import program_facts_on, score_on

        with dask_session(cfg, data, step, "loading data") as (client, folder):
            now = utc_now()
            facts = program_facts_on(client, folder, now, cutoff, cfg)
            check_scoring_date(cutoff, facts.span, cfg, allow_stale=allow_stale)
            models = then()
            scoring(models, "the partitions")
            summary = score_on(
                client,
                folder,
                now,
                cutoff,
                cfg,
                models,
                actions,
                context=facts.context,
                previous=previous,
                scored_at=utc_now(),
                write_part=lambda k, rows: write_risk_list_part(staging, k, rows, cutoff),
                text_rows=max(cfg.scoring.spreadsheet_rows, cfg.scoring.top_in_report, CONSOLE_TOP),
            )
            return summary, facts.kpis, models, previous
    step("loading data")
    program = load_data(cfg, data, None, lenient)
    check_scoring_date(cutoff, event_span(program.events), cfg, allow_stale=allow_stale)
    models = then()
    features = build_features(program.partners, program.events, [cutoff], cfg, surveys=program.surveys)
    kpis = combine_kpi_parts([kpi_part(program.partners, program.events, cutoff, cfg, surveys=program.surveys)], cutoff, cfg)
    del program
    scoring(models, f"{len(features):,} partners")
    return score_features(features, cutoff, cfg, models, actions, previous=previous), kpis, models, previous


def cutoff_or_after_data(program, as_of: str | None):  # noqa: ANN001,ANN202 - Program -> pd.Timestamp
    """`--as-of` when given, else the midnight after the data's last event (after the last sign-up when there is
    no event): what the commands that look back over a whole program measure up to by default."""
    import pandas as pd

    if as_of:
        return parse_as_of(as_of, "--as-of")
    last = program.events["ts"].max() if len(program.events) else program.partners["signup_at"].max()
    return last.floor("D") + pd.Timedelta(days=1)


def parse_as_of(value: str, option: str):  # noqa: ANN202 - pd.Timestamp
    from partner_churn.domain import parse_moment

    return parse_moment(value, option)


def utc_now():  # noqa: ANN202 - pd.Timestamp
    import pandas as pd

    return pd.Timestamp.now(tz="UTC")
