"""`partner-churn monitor ...`: drift, realized performance, and both with one verdict, for a scheduler.

Exit codes: 0 keep or watch, 1 retrain (drift beyond the thresholds, or performance below tolerance),
2 bad input (one `error: ...` line, from the main entry point). The work is in `monitoring/checks.py`;
this module parses options and prints, with the main CLI's options and helpers, and adds itself to its
app (`partner_churn/cli.py` imports this module last, so either can be imported first). Heavy imports
happen inside the commands, so `partner-churn` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from partner_churn.cli import AllowStaleOption, ConfigOption, DataOption, LenientOption, SetOption, _load, _parse_as_of, app
from partner_churn.config import Config, load_config
from partner_churn.domain import check_scoring_date

if TYPE_CHECKING:
    from features.contract import Program
    from monitoring.checks import CheckOutcome

monitor_app = typer.Typer(
    help="Watch the champion: drift of features and scores, realized performance, and a keep / watch / retrain verdict.",
    invoke_without_command=True,
)
app.add_typer(monitor_app, name="monitor")

ScoringDateOption = Annotated[
    Optional[str],
    typer.Option("--as-of", help="Scoring date whose population to check, UTC (default: the latest risk list in paths.output_dir)."),
]


@monitor_app.callback()
def monitor(
    ctx: typer.Context,
    data: DataOption = None,
    as_of: ScoringDateOption = None,
    allow_stale: AllowStaleOption = False,
    lenient: LenientOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Both checks: drift of the latest (or --as-of) scoring, realized performance of the latest scoring
    whose horizon has passed; one verdict; exit 1 when either says retrain."""
    if ctx.invoked_subcommand is not None:
        return
    from monitoring import checks, store
    from monitoring.verdict import EXIT_CODE, Recommendation, combine
    from partner_churn.errors import InputError

    cfg, program = _setup(config, set_, data, lenient)
    date = _parse_as_of(as_of, "--as-of") if as_of else store.latest_scoring(cfg.paths.output_dir)
    check_scoring_date(date, program.events, cfg, allow_stale=allow_stale)
    typer.echo(f"checking drift of the scoring of {date:%Y-%m-%d}", err=True)
    outcomes = [("drift", checks.run_drift(cfg, program, date))]
    _print(outcomes[0][1])
    scored_at = checks.latest_with_outcomes(cfg, program)
    if scored_at is None:
        typer.echo(
            f"performance: no saved scoring's {cfg.labels.horizon_days}-day horizon has passed by the end of the data "
            f"({checks.data_end(program):%Y-%m-%d}); nothing to judge yet"
        )
    else:
        try:
            outcomes.append(("performance", checks.run_performance(cfg, program, scored_at)))
            _print(outcomes[-1][1])
        except InputError as exc:  # drift has spoken; a performance check that cannot run must not hide it
            reason = f"the scoring of {scored_at:%Y-%m-%d} could not be judged: {exc}"
            typer.echo(f"performance: {reason}")
            outcomes.append(("performance", checks.CheckOutcome(reason, Recommendation("watch", reason))))
    verdict = combine([(name, outcome.recommendation) for name, outcome in outcomes])
    typer.echo(f"monitor: {verdict.action} ({', '.join(f'{name}: {o.recommendation.action}' for name, o in outcomes)})")
    typer.echo(verdict.line())
    raise typer.Exit(EXIT_CODE[verdict.action])


@monitor_app.command("drift")
def drift(
    as_of: ScoringDateOption = None,
    data: DataOption = None,
    allow_stale: AllowStaleOption = False,
    lenient: LenientOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Evidently drift of the scored population's features and scores against the scoring model's training
    reference; writes drift.html and drift.json, logs to MLflow; exit 1 on dataset or score drift."""
    from monitoring import checks, store
    from monitoring.verdict import EXIT_CODE

    cfg, program = _setup(config, set_, data, lenient)
    date = _parse_as_of(as_of, "--as-of") if as_of else store.latest_scoring(cfg.paths.output_dir)
    check_scoring_date(date, program.events, cfg, allow_stale=allow_stale)
    typer.echo(f"checking drift of the scoring of {date:%Y-%m-%d}", err=True)
    outcome = checks.run_drift(cfg, program, date)
    _print(outcome)
    typer.echo(outcome.recommendation.line())
    raise typer.Exit(EXIT_CODE[outcome.recommendation.action])


@monitor_app.command("performance")
def performance(
    scored_at: Annotated[
        Optional[str],
        typer.Option(
            "--scored-at",
            help="Date of the scoring to judge, UTC; its horizon must have passed in the data "
            "(default: the latest such scoring in paths.output_dir).",
        ),
    ] = None,
    data: DataOption = None,
    lenient: LenientOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Join a saved risk list with what happened over the horizon: ROC-AUC, PR-AUC, calibration, precision in
    the top 10%, by segment, next to the backtest; exit 1 when a ROC-AUC falls below the tolerance."""
    from monitoring import checks
    from monitoring.verdict import EXIT_CODE
    from partner_churn.errors import InputError

    cfg, program = _setup(config, set_, data, lenient)
    if scored_at:
        date = _parse_as_of(scored_at, "--scored-at")
    else:
        date = checks.latest_with_outcomes(cfg, program)
        if date is None:
            raise InputError(
                f"no saved scoring in {cfg.paths.output_dir} has its {cfg.labels.horizon_days}-day horizon before the end "
                f"of the data ({checks.data_end(program):%Y-%m-%d}): nothing to judge yet"
            )
    outcome = checks.run_performance(cfg, program, date)
    _print(outcome)
    typer.echo(outcome.recommendation.line())
    raise typer.Exit(EXIT_CODE[outcome.recommendation.action])


def _setup(config: Path | None, set_: list[str] | None, data: Path | None, lenient: bool) -> tuple[Config, Program]:
    cfg = load_config(config, overrides=set_ or ())
    typer.echo("loading data", err=True)
    return cfg, _load(cfg, data, None, lenient)


def _print(outcome: CheckOutcome) -> None:
    typer.echo(outcome.summary)
    typer.echo("reports: " + ", ".join(str(path) for path in outcome.files))
    typer.echo(f"MLflow run {outcome.run_id}")
