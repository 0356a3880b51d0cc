"""`partner-churn monitor ...` and `partner-churn retrain`: drift, realized performance, both with one verdict,
and training when it is called for, for a scheduler.

Exit codes of `monitor`: 0 keep or watch, 1 retrain (drift beyond the thresholds, or performance below
tolerance), 2 bad input (one `error: ...` line, from the main entry point). Of `retrain`: 0 promoted or
nothing to do, 1 a model stays challenger or cannot be trained, 2 bad input. The work is in
`monitoring/checks.py`;
this module parses options and prints, with the options and helpers of `commands.common`, and adds
itself to its app (`commands.main` imports it). Heavy imports happen inside the commands, so
`partner-churn` starts fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from commands.common import (
    AllowStaleOption,
    ConfigOption,
    DataOption,
    EngineOption,
    LenientOption,
    SetOption,
    app,
    config_with_engine,
    dask_session,
    load_data,
    parse_as_of,
    utc_now,
)
from partner_churn.config import Config
from partner_churn.domain import EventSpan, check_scoring_date, event_span
from partner_churn.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from features.contract import Program
    from monitoring.checks import CheckOutcome, LabelsAt
    from monitoring.verdict import Recommendation

monitor_app = typer.Typer(
    help="Watch the champion: drift of features and scores, realized performance, and a keep / watch / retrain verdict.",
    invoke_without_command=True,
)
app.add_typer(monitor_app, name="monitor")

LangOption = Annotated[
    str | None,
    typer.Option("--lang", help="Language of the drift summary page (drift_summary.html): en or ru (default: scoring.lang)."),
]
ScoringDateOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Scoring date whose population to check, UTC (default: the latest risk list in paths.output_dir)."),
]


@monitor_app.callback()
def monitor(
    ctx: typer.Context,
    data: DataOption = None,
    as_of: ScoringDateOption = None,
    allow_stale: AllowStaleOption = False,
    lenient: LenientOption = False,
    lang: LangOption = None,
    engine: EngineOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Both checks: drift of the latest (or --as-of) scoring, realized performance of the latest scoring
    whose horizon has passed; one verdict; exit 1 when either says retrain."""
    if ctx.invoked_subcommand is not None:
        given = sorted(f"--{name.rstrip('_').replace('_', '-')}" for name, value in ctx.params.items() if value)
        if given:  # they would be dropped silently: the subcommand reads its own
            raise InputError(
                f"{', '.join(given)} given before `{ctx.invoked_subcommand}`: the options of a subcommand go after it "
                f"(partner-churn monitor {ctx.invoked_subcommand} --help)"
            )
        return
    from monitoring import store
    from monitoring.verdict import EXIT_CODE

    cfg = _config(config, set_, engine, lenient, lang)
    date = parse_as_of(as_of, "--as-of") if as_of else store.latest_scoring(cfg.paths.output_dir)
    with _program(cfg, data, lenient, at=[date]) as program:
        verdict = _verdict(cfg, program, date, allow_stale=allow_stale)
    typer.echo(verdict.line())
    raise typer.Exit(EXIT_CODE[verdict.action])


@dataclass(frozen=True)
class _Program:
    """What monitor and retrain read of the program, on either engine: its event span, its features at a cutoff,
    its labels at a cutoff, and (the local engine) the program in memory, which training then reuses."""

    span: EventSpan | None
    features_at: Callable[[pd.Timestamp], pd.DataFrame]
    labels_at: LabelsAt
    loaded: Program | None

    @property
    def end(self) -> pd.Timestamp:
        """The last event: outcomes are known up to it."""
        if self.span is None:
            raise InputError("the data holds no events")
        return self.span[1]


@contextmanager
def _program(cfg: Config, data: Path | None, lenient: bool, *, at: Sequence[pd.Timestamp] = ()) -> Iterator[_Program]:
    """The program on the configured engine for the block: loaded here (local), or partition by partition on a
    Dask cluster, whose first pass finds the span and the context at the cutoffs `at` (reused by features_at)."""
    from monitoring import checks

    if cfg.compute.engine == "dask":
        from features.partitioned import build_features_on, build_labels_on, program_figures_on

        with dask_session(cfg, data, lambda line: typer.echo(line, err=True), "loading data") as (client, folder):
            now = utc_now()
            figures = program_figures_on(client, folder, now, list(at), cfg)  # one pass: the span, and the context at `at`

            def features_at(cutoff: pd.Timestamp) -> pd.DataFrame:
                context = figures.context if cutoff in figures.context.cutoffs else None  # the scoring's own time of day: a pass of its own
                return build_features_on(client, folder, now, [cutoff], cfg, context=context)

            yield _Program(figures.span, features_at, lambda cutoff, end: build_labels_on(client, folder, now, [cutoff], cfg, data_end=end), None)
        return
    typer.echo("loading data", err=True)
    program = load_data(cfg, data, None, lenient)
    yield _Program(event_span(program.events), checks.program_features(program, cfg), checks.program_labels(program, cfg), program)


def _verdict(cfg: Config, program: _Program, date: pd.Timestamp, *, allow_stale: bool) -> Recommendation:
    """Drift of the scoring of `date` and realized performance of the latest scoring whose horizon has
    passed, each printed, combined into one verdict (its own line printed too)."""
    from monitoring import checks
    from monitoring.verdict import Recommendation, combine

    check_scoring_date(date, program.span, cfg, allow_stale=allow_stale)
    typer.echo(f"checking drift of the scoring of {date:%Y-%m-%d}", err=True)
    outcomes = [("drift", checks.run_drift(cfg, program.features_at, date))]
    _print(outcomes[0][1])
    scored_at = checks.latest_with_outcomes(cfg, program.end)
    if scored_at is None:
        typer.echo(
            f"performance: no saved scoring's {cfg.labels.horizon_days}-day horizon has passed by the end of the data "
            f"({program.end:%Y-%m-%d}); nothing to judge yet"
        )
    else:
        try:
            outcomes.append(("performance", checks.run_performance(cfg, scored_at, end=program.end, labels_at=program.labels_at)))
            _print(outcomes[-1][1])
        except InputError as exc:  # drift has spoken; a performance check that cannot run must not hide it
            reason = f"the scoring of {scored_at:%Y-%m-%d} could not be judged: {exc}"
            typer.echo(f"performance: {reason}")
            outcomes.append(("performance", checks.CheckOutcome(reason, Recommendation("watch", reason))))
    verdict = combine([(name, outcome.recommendation) for name, outcome in outcomes])
    typer.echo(f"monitor: {verdict.action} ({', '.join(f'{name}: {o.recommendation.action}' for name, o in outcomes)})")
    return verdict


@app.command()
def retrain(
    data: DataOption = None,
    as_of: ScoringDateOption = None,
    force: Annotated[bool, typer.Option("--force", help="Train even when nothing calls for it.")] = False,
    allow_stale: AllowStaleOption = False,
    lenient: LenientOption = False,
    engine: EngineOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """For schedulers: monitor verdict -> train -> gate -> promote, when a model is missing, stale or judged
    'retrain'. Exit 0 promoted or nothing to do, 1 a model stays challenger or cannot be trained, 2 bad input."""
    from commands.common import champions_in_use, train_or_backtest
    from monitoring import store

    cfg = _config(config, set_, engine, lenient)
    date: pd.Timestamp | None = None
    unjudged: InputError | None = None
    try:
        date = parse_as_of(as_of, "--as-of") if as_of else store.latest_scoring(cfg.paths.output_dir)
    except InputError as exc:
        unjudged = exc
    why, loaded = (["--force"], None) if force else _why_retrain(cfg, data, lenient, date, unjudged, allow_stale=allow_stale)
    if not why:
        typer.echo(f"retrain: nothing to do: the champions are fresh and the monitor does not ask for it; in use: {champions_in_use(cfg)}")
        return
    typer.echo(f"retraining: {'; '.join(why)}", err=True)
    decisions, run_id, not_trained = train_or_backtest(cfg, data, lenient, register=True, program=loaded)
    for decision in decisions:
        typer.echo(f"{decision.name} v{decision.version}: {'champion' if decision.promoted else 'challenger'}: {decision.reason}")
    promoted = [f"{d.target} v{d.version}" for d in decisions if d.promoted]
    kept = [f"{d.target} v{d.version}" for d in decisions if not d.promoted]
    said = [f"promoted {', '.join(promoted)}"] if promoted else []
    said += [f"challenger kept: {', '.join(kept)}"] if kept else []
    said += [f"not trained: {', '.join(not_trained)}"] if not_trained else []
    typer.echo(f"retrain: {'; '.join(said)} (because {'; '.join(why)}); MLflow run {run_id}; in use: {champions_in_use(cfg)}")
    if kept or not_trained:
        raise typer.Exit(1)


def _why_retrain(
    cfg: Config, data: Path | None, lenient: bool, date: pd.Timestamp | None, unjudged: InputError | None, *, allow_stale: bool
) -> tuple[list[str], Program | None]:
    """What calls for training (nothing: an empty list), the champions' age first, then the monitor's verdict on
    the scoring of `date` (None: `unjudged` says why there is none), and the program training may reuse (local)."""
    with _program(cfg, data, lenient, at=[date] if date is not None else []) as program:
        why = _retrain_reasons(cfg, program.end)
        if not why:
            if date is None:
                typer.echo(f"monitor: not judged: {unjudged}")
            else:
                verdict = _verdict(cfg, program, date, allow_stale=allow_stale)
                if verdict.action == "retrain":
                    why.append(f"the monitor says retrain: {verdict.reason}")
        return why, program.loaded


def _retrain_reasons(cfg: Config, data_end: pd.Timestamp) -> list[str]:
    """What calls for training without asking the monitor: a target without a champion, or a champion whose
    newest label is more than scoring.max_model_age_days before the data's last event."""
    from partner_churn.domain import TARGETS, days_past_model_age, model_name
    from training.registry import list_models

    versions = list_models(cfg)
    champions = versions[versions["aliases"].str.split(",").apply(lambda aliases: "champion" in aliases)] if len(versions) else versions
    reasons = []
    for target in TARGETS:
        found = champions[champions["name"] == model_name(target, cfg)] if len(champions) else champions
        if found.empty:
            reasons.append(f"{target} has no champion")
            continue
        through = str(found["trained_through"].iloc[0])
        if through == "unknown":
            reasons.append(f"{target} champion v{found['version'].iloc[0]} does not say how recent its labels are")
            continue
        age = days_past_model_age(through, data_end, cfg)
        if age is not None:
            reasons.append(
                f"{target} champion v{found['version'].iloc[0]} learned from labels through {through}, {age} days before the "
                f"data's last event (more than scoring.max_model_age_days, {cfg.scoring.max_model_age_days})"
            )
    return reasons


@monitor_app.command("drift")
def drift(
    as_of: ScoringDateOption = None,
    data: DataOption = None,
    allow_stale: AllowStaleOption = False,
    lenient: LenientOption = False,
    lang: LangOption = None,
    engine: EngineOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Evidently drift of the scored population's features and scores against the scoring model's training
    reference; writes drift_summary.html (the page to read: verdict, dates, models, drifted features),
    Evidently's drift.html and drift.json, logs to MLflow; exit 1 on dataset or score drift."""
    from monitoring import checks, store
    from monitoring.verdict import EXIT_CODE

    cfg = _config(config, set_, engine, lenient, lang)
    date = parse_as_of(as_of, "--as-of") if as_of else store.latest_scoring(cfg.paths.output_dir)
    with _program(cfg, data, lenient, at=[date]) as program:
        check_scoring_date(date, program.span, cfg, allow_stale=allow_stale)
        typer.echo(f"checking drift of the scoring of {date:%Y-%m-%d}", err=True)
        outcome = checks.run_drift(cfg, program.features_at, date)
    _print(outcome)
    typer.echo(outcome.recommendation.line())
    raise typer.Exit(EXIT_CODE[outcome.recommendation.action])


@monitor_app.command("performance")
def performance(
    scored_at: Annotated[
        str | None,
        typer.Option(
            "--scored-at",
            help="Date of the scoring to judge, UTC; its horizon must have passed in the data "
            "(default: the latest such scoring in paths.output_dir).",
        ),
    ] = None,
    data: DataOption = None,
    lenient: LenientOption = False,
    engine: EngineOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Join a saved risk list with what happened over the horizon: ROC-AUC, PR-AUC, calibration, precision in
    the top 10%, by segment, next to the backtest; exit 1 when a ROC-AUC falls below the tolerance."""
    from monitoring import checks
    from monitoring.verdict import EXIT_CODE

    cfg = _config(config, set_, engine, lenient)
    asked = parse_as_of(scored_at, "--scored-at") if scored_at else None  # before the data is read
    with _program(cfg, data, lenient) as program:
        if asked is not None:
            date = asked
        else:
            found = checks.latest_with_outcomes(cfg, program.end)
            if found is None:
                raise InputError(
                    f"no saved scoring in {cfg.paths.output_dir} has its {cfg.labels.horizon_days}-day horizon before the end "
                    f"of the data ({program.end:%Y-%m-%d}): nothing to judge yet"
                )
            date = found
        outcome = checks.run_performance(cfg, date, end=program.end, labels_at=program.labels_at)
    _print(outcome)
    typer.echo(outcome.recommendation.line())
    raise typer.Exit(EXIT_CODE[outcome.recommendation.action])


def _config(config: Path | None, set_: list[str] | None, engine: str | None, lenient: bool, lang: str | None = None) -> Config:
    return config_with_engine(config, [*(set_ or ()), *([f"scoring.lang={lang}"] if lang else [])], engine, lenient=lenient)


def _print(outcome: CheckOutcome) -> None:
    typer.echo(outcome.summary)
    typer.echo("reports: " + ", ".join(str(path) for path in outcome.files))
    typer.echo(f"MLflow run {outcome.run_id}")
