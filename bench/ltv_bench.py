"""Benchmark: partner LTV (`scoring.ltv.partner_ltv`) against the revenue the generator realised afterwards,
beside a buy-till-you-die (BG/NBD) expected value.

Per program size and seed: generate a program from `--start-date` long enough that the cutoff C
(`--cutoff`) has the longest horizon of data after it; cut it at C (`synthetic.scenarios.program_before`,
written and loaded through the data contract as the CLI would); train both models on the cut program with
the project's default config (`train_and_backtest`: its labels end before C, nothing after C is seen); score
every partner signed up before C (`score_partners`, no previous scoring) and compute `partner_ltv` at each
horizon (`scoring.ltv_horizon_months` set per horizon). Realised revenue: the sum of `sale` amounts of the
uncut program in [C, C + months x DAYS_PER_MONTH days), per partner signed up before C (later sign-ups are
not in the LTV and are left out).

BTYD expected value: `BTYDBaseline` fitted on the purchase summary at C of every partner signed up before C
(the fit keeps those with a purchase before C); expected purchase days over the horizon times the partner's
mean sale amount per purchase day before C (a simple spend model, not Gamma-Gamma; 0 for a partner with no
sale before C). Shown for every group; the comparison the LTV is judged by is over active partners.

Groups: the segment at C of partners active at C (a qualifying event in the last `labels.active_window_days`),
and `inactive` (not active at C: LTV 0; every Sleeper is one), also split by its segment at C. Figures per group:
realised revenue, the LTV and the BTYD value (sums), their ratio to realised (bias), the mean absolute error
per partner, Spearman's rank correlation with realised, `pace` (the horizon's revenue at today's pace,
ltv + ltv_at_risk) over realised, and the share of realised revenue from partners whose LTV is 0.

Run: `.venv/bin/python -m bench.ltv_bench [--partners 5000 20000] [--seeds 1 2] [--horizons 3 6 12]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import spearmanr

from bench import machine
from features.contract import Program, load_program
from features.events import EventArrays
from features.segments import SEGMENTS
from partner_churn.config import Config, load_config
from partner_churn.domain import active_mask
from retention.actions import load_action_table
from scoring.ltv import DAYS_PER_MONTH, PaceGrowth, pace_growth, partner_ltv
from scoring.scores import ScoringModels
from serving.batch import score_partners
from synthetic.program import GeneratedProgram, generate_program, write_program
from synthetic.scenarios import program_before
from training.btyd import BTYDBaseline, purchase_summary
from training.train import train_and_backtest

INACTIVE = "inactive"


def with_horizon(config: Config, months: int) -> Config:
    """The config with `scoring.ltv_horizon_months` set to `months`."""
    return config.model_copy(update={"scoring": config.scoring.model_copy(update={"ltv_horizon_months": months})})


def months_needed(start: dt.date, cutoff: dt.date, horizon_months: int) -> int:
    """Months to simulate from `start` so that [cutoff, cutoff + horizon x DAYS_PER_MONTH days) is inside the program."""
    end = pd.Timestamp(cutoff) + pd.Timedelta(days=horizon_months * DAYS_PER_MONTH)
    months = (end.year - start.year) * 12 + end.month - start.month
    return months + (1 if end > pd.Timestamp(start) + pd.DateOffset(months=months) else 0)


def loaded(program: GeneratedProgram, folder: Path, config: Config, as_of: pd.Timestamp) -> Program:
    """A generated program as the CLI sees it: written, then loaded through the data contract."""
    write_program(program, folder)
    return load_program(folder, config.data, as_of)


def realised_revenue(program: GeneratedProgram, partner_ids: pd.Index, cutoff: pd.Timestamp, days: float) -> np.ndarray:
    """Sale amounts in [cutoff, cutoff + days) per partner of `partner_ids`, from the uncut program."""
    events = program.events
    end = cutoff + pd.Timedelta(days=days)
    keep = pc.and_(
        pc.equal(events["event_type"].cast("string"), "sale"),
        pc.and_(pc.greater_equal(events["ts"], cutoff.to_pydatetime()), pc.less(events["ts"], end.to_pydatetime())),
    )
    sales = events.filter(keep).select(["partner_id", "amount"]).to_pandas()
    sums = sales.groupby(sales["partner_id"].astype(str), observed=True)["amount"].sum()
    return sums.reindex(partner_ids, fill_value=0.0).to_numpy(float)


def btyd_inputs(program: Program, scored: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[BTYDBaseline, pd.DataFrame, np.ndarray]:
    """The fitted BG/NBD, the summary at `cutoff` of the scored partners (their order) and their mean sale
    amount per purchase day before it (0 without a sale)."""
    signup = program.partners.set_index("partner_id")["signup_at"]
    rows = pd.DataFrame({"partner_id": scored["partner_id"].astype(str).to_numpy(), "as_of": cutoff})
    rows["signup_at"] = signup.reindex(rows["partner_id"]).to_numpy()
    summary = purchase_summary(program.events, rows)
    model = BTYDBaseline().fit(summary)
    events = program.events
    sales = events[(events["event_type"] == "sale") & (events["ts"] < cutoff)]
    amount = sales.groupby(sales["partner_id"].astype(str), observed=True)["amount"].sum().reindex(rows["partner_id"], fill_value=0.0)
    days = summary["frequency"].to_numpy(float) + 1.0
    per_day = np.where(summary["purchased"].to_numpy(bool), amount.to_numpy(float) / days, 0.0)
    return model, summary, per_day


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def groups(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """All, active, each segment of the active partners, inactive, and inactive by its segment at C."""
    active, segment = frame["active"].to_numpy(bool), frame["segment"].to_numpy(object)
    out = [("all", frame), ("active", frame[active])]
    out += [(name, frame[active & (segment == name)]) for name in SEGMENTS if (active & (segment == name)).any()]
    out.append((INACTIVE, frame[~active]))
    out += [(f"{INACTIVE}:{name}", frame[~active & (segment == name)]) for name in SEGMENTS if (~active & (segment == name)).any()]
    return out


def group_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per group (`groups`), the figures of the module's docstring; `frame` has segment, active, realised, ltv,
    pace, btyd per partner."""
    out = []
    for group, part in groups(frame):
        real = part["realised"].to_numpy(float)
        total = float(real.sum())
        row: dict[str, object] = {"group": group, "partners": len(part), "realised": total}
        for name in ("ltv", "btyd"):
            values = part[name].to_numpy(float)
            row[name] = float(values.sum())
            row[f"{name}/real"] = float(values.sum()) / total if total > 0 else float("nan")
            row[f"{name}_mae"] = float(np.abs(values - real).mean()) if len(part) else float("nan")
            row[f"{name}_rho"] = spearman(values, real)
        row["pace/real"] = float(part["pace"].sum()) / total if total > 0 else float("nan")
        row["real_ltv0"] = float(real[part["ltv"].to_numpy(float) == 0].sum()) / total if total > 0 else float("nan")
        out.append(row)
    return pd.DataFrame(out).set_index("group")


def variants_table(frame: pd.DataFrame, scored: pd.DataFrame, config: Config, horizon: int, growth: PaceGrowth) -> pd.DataFrame:
    """Active partners by segment and tenure band: realised, and LTV/realised, MAE and Spearman of the project's
    LTV (`ltv`: tenure-aware pace x the history's growth) and of two reduced forms: `no_growth` (growth 1) and
    `flat` (the window's revenue over the whole window, growth 1: the first version of 2026-12-04)."""
    horizon_config = with_horizon(config, horizon)
    values = {
        "ltv": partner_ltv(scored, horizon_config, growth=growth)["ltv"],
        "no_growth": partner_ltv(scored, horizon_config)["ltv"],
        "flat": partner_ltv(scored, horizon_config, tenure_days=np.full(len(scored), np.inf))["ltv"],
    }
    young = scored["tenure_days"].to_numpy(float) < config.segments.revenue_window_days
    active, segment = frame["active"].to_numpy(bool), frame["segment"].to_numpy(object)
    real = frame["realised"].to_numpy(float)
    cells = [("active", active), ("active, tenure < window", active & young), ("active, tenure >= window", active & ~young)]
    cells += [(f"{name}, tenure < window", active & young & (segment == name)) for name in SEGMENTS if (active & young & (segment == name)).any()]
    out = []
    for label, mask in cells:
        row: dict[str, object] = {"group": label, "partners": int(mask.sum()), "realised": float(real[mask].sum())}
        for name, ltv in values.items():
            row[f"{name}/real"] = float(ltv[mask].sum()) / row["realised"] if row["realised"] else float("nan")  # type: ignore[operator]
            row[f"{name}_mae"] = float(np.abs(ltv[mask] - real[mask]).mean())
            row[f"{name}_rho"] = spearman(ltv[mask], real[mask])
        out.append(row)
    return pd.DataFrame(out).set_index("group")


def formatted_variants(table: pd.DataFrame) -> str:
    shown = table.copy()
    shown["realised"] = shown["realised"].map(lambda v: f"{v / 1000:,.0f}k")
    for column in shown.columns[2:]:
        shown[column] = shown[column].map(lambda v: "-" if v != v else (f"{v:,.0f}" if column.endswith("_mae") else f"{v:.2f}"))
    return shown.to_string()


def survival_table(
    program: GeneratedProgram, scored: pd.DataFrame, active: np.ndarray, cutoff: pd.Timestamp, config: Config, periods: int
) -> pd.DataFrame:
    """The formula's two parts against what happened, per label horizon k after `cutoff`, over the partners active
    at it: the share with a qualifying event in horizon k and the share with one in each of horizons 1..k (what
    s^k, the compounded chance of staying, stands for) beside the mean s^k; sale revenue realised in horizon k
    (and the part of it from partners active in each of horizons 1..k: the rest is comebacks) beside sum r s^k
    (the LTV's term) and sum r (today's pace)."""
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    events = program.events
    types = events["event_type"].cast("string")
    window = pc.and_(pc.greater_equal(events["ts"], cutoff.to_pydatetime()), pc.less(events["ts"], (cutoff + periods * horizon).to_pydatetime()))
    kept = events.filter(pc.and_(window, pc.is_in(types, pa.array(list(config.labels.qualifying_event_types)))))
    kept = kept.select(["partner_id", "ts", "event_type", "amount"]).to_pandas()
    ids = pd.Index(scored["partner_id"].astype(str)[active])
    row = ids.get_indexer(kept["partner_id"].astype(str))
    kept = kept[row >= 0]
    row = row[row >= 0]
    period = ((kept["ts"] - cutoff) // horizon).to_numpy(int)
    seen = np.zeros((len(ids), periods), bool)
    seen[row, period] = True
    revenue = np.zeros((len(ids), periods))
    sale = (kept["event_type"].astype(str) == "sale").to_numpy()
    np.add.at(revenue, (row[sale], period[sale]), kept["amount"].to_numpy(float)[sale])
    stay = 1.0 - np.clip(scored["deactivation_risk"].to_numpy(float)[active], 0.0, 1.0)
    pace = np.nan_to_num(scored["expected_revenue"].to_numpy(float)[active])
    out = []
    for k in range(1, periods + 1):
        out.append(
            {
                "k": k,
                "active in k": seen[:, k - 1].mean(),
                "active in 1..k": seen[:, :k].all(axis=1).mean(),
                "mean s^k": (stay**k).mean(),
                "realised": revenue[:, k - 1].sum(),
                "of it by 1..k": revenue[seen[:, :k].all(axis=1), k - 1].sum(),
                "sum r s^k": (pace * stay**k).sum(),
                "sum r": pace.sum(),
            }
        )
    return pd.DataFrame(out).set_index("k")


def formatted_survival(table: pd.DataFrame) -> str:
    shown = table.copy()
    for column in ("active in k", "active in 1..k", "mean s^k"):
        shown[column] = shown[column].map(lambda v: f"{v:.3f}")
    for column in ("realised", "of it by 1..k", "sum r s^k", "sum r"):
        shown[column] = shown[column].map(lambda v: f"{v / 1000:,.0f}k")
    return shown.to_string()


def formatted(table: pd.DataFrame) -> str:
    shown = table.copy()
    for column in ("realised", "ltv", "btyd"):
        shown[column] = shown[column].map(lambda v: f"{v / 1000:,.0f}k")
    for column in ("ltv_mae", "btyd_mae"):
        shown[column] = shown[column].map(lambda v: "-" if v != v else f"{v:,.0f}")
    for column in ("ltv/real", "btyd/real", "pace/real", "ltv_rho", "btyd_rho"):
        shown[column] = shown[column].map(lambda v: "-" if v != v else f"{v:.2f}")
    shown["real_ltv0"] = shown["real_ltv0"].map(lambda v: "-" if v != v else f"{v:.1%}")
    order = ["partners", "realised", "ltv", "ltv/real", "ltv_mae", "ltv_rho", "btyd", "btyd/real", "btyd_mae", "btyd_rho", "pace/real", "real_ltv0"]
    return shown[order].to_string()


def run_one(partners: int, seed: int, args: argparse.Namespace, config: Config, folder: Path) -> list[dict[str, object]]:
    cutoff = pd.Timestamp(args.cutoff, tz="UTC")
    months = args.months or months_needed(args.start_date, args.cutoff, max(args.horizons))
    timings: dict[str, float] = {}
    started = time.perf_counter()
    program = generate_program(partners, months, seed, start_date=args.start_date)
    timings["generate"] = time.perf_counter() - started
    mark = time.perf_counter()
    before = loaded(program_before(program, args.cutoff), folder / f"p{partners}-s{seed}", config, cutoff)
    timings["cut+write+load"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result = train_and_backtest(before, config)
    timings["train"] = time.perf_counter() - mark
    risk, potential = result.models.get("deactivation_risk"), result.models.get("upgrade_potential")
    unavailable = {str(target): why for target, why in result.not_trained.items()}
    models = ScoringModels(risk, "bench", potential, "bench" if potential is not None else None, unavailable=unavailable)
    mark = time.perf_counter()
    scored = score_partners(
        before.partners, before.events, cutoff, config, models, load_action_table(config.scoring), previous=None, surveys=before.surveys
    )
    timings["score"] = time.perf_counter() - mark
    mark = time.perf_counter()
    btyd, summary, per_day = btyd_inputs(before, scored, cutoff)
    timings["btyd fit"] = time.perf_counter() - mark

    active = active_mask(scored, config)
    ids = pd.Index(scored["partner_id"].astype(str))
    segment = scored["segment"].astype(object).to_numpy()
    trained_through = risk.trained_through if risk is not None else "-"
    auc = {target: round(value, 3) for target, value in result.model_auc.items()}
    params = {name: round(value, 3) for name, value in btyd.params_.items()}
    print(
        f"\n=== {partners:,} partners generated, seed {seed}: {months} months from {args.start_date}, cutoff {args.cutoff}; "
        f"{len(scored):,} partners signed up before C, {int(active.sum()):,} active at C; risk model trained through {trained_through}; "
        f"backtest ROC-AUC {auc}; BG/NBD {btyd.fitted_by_} on {btyd.n_fit_rows_:,} buyers "
        f"({btyd.n_repeat_buyers_:,} repeat), params {params}"
    )
    print("times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    if not np.isfinite(scored.loc[active, "deactivation_risk"].to_numpy(float)).all():
        print("warning: active partners without a risk score: their LTV is NaN")

    periods = int(max(args.horizons) * DAYS_PER_MONTH // config.labels.horizon_days)
    print(
        f"\n-- the formula's parts per {config.labels.horizon_days}-day horizon k after C, partners active at C (r: expected_revenue, s: 1 - risk):"
    )
    print(formatted_survival(survival_table(program, scored, active, cutoff, config, periods)))
    rows = []
    for horizon in args.horizons:
        days = horizon * DAYS_PER_MONTH
        horizon_config = with_horizon(config, horizon)
        growth = pace_growth(EventArrays.of(before.partners, before.events, horizon_config), cutoff, horizon_config)
        print(f"\n-- pace growth for {horizon} months, measured from {growth.measured_at}: {dict(growth.factors)} (partners {dict(growth.partners)})")
        values = partner_ltv(scored, horizon_config, growth=growth)
        frame = pd.DataFrame(
            {
                "segment": segment,
                "active": active,
                "realised": realised_revenue(program, ids, cutoff, days),
                "ltv": values["ltv"],
                "pace": values["ltv"] + values["ltv_at_risk"],
                "btyd": btyd.expected_purchases(summary, days) * per_day,
            }
        )
        table = group_table(frame)
        print(f"\n-- horizon {horizon} months ({days:.2f} days from C); money in thousands, MAE per partner:")
        print(formatted(table))
        print(f"   the LTV and its reduced forms (same risk), active partners, {horizon} months:")
        print(formatted_variants(variants_table(frame, scored, config, horizon, growth)))
        for group, row in table.iterrows():
            rows.append({"partners_generated": partners, "seed": seed, "horizon": horizon, "group": group, **row.to_dict()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partners", type=int, nargs="+", default=[5_000], help="program sizes to generate (sign-ups over the whole period)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="generator seeds")
    parser.add_argument("--horizons", type=int, nargs="+", default=[3, 6, 12], help="LTV horizons in months")
    parser.add_argument("--start-date", type=dt.date.fromisoformat, default=dt.date(2024, 1, 1), help="first day of the generated program")
    parser.add_argument("--cutoff", type=dt.date.fromisoformat, default=dt.date(2025, 7, 1), help="scoring date C (UTC midnight)")
    parser.add_argument("--months", type=int, default=None, help="months to simulate (default: enough for the longest horizon after C)")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"machine: {machine()}")
    config = load_config(env={})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for partners in args.partners:
            for seed in args.seeds:
                rows += run_one(partners, seed, args, config, Path(tmp))
    summary = pd.DataFrame(rows)
    pd.set_option("display.width", 220)
    print("\n=== summary over runs (ratio to realised; MAE per partner; Spearman):")
    keep = summary[summary["group"].isin(["all", "active"])]
    print(
        keep.pivot_table(
            index=["partners_generated", "horizon", "group"],
            columns="seed",
            values=["ltv/real", "btyd/real", "pace/real", "ltv_rho", "btyd_rho", "real_ltv0"],
            sort=False,
        )
        .round(3)
        .to_string()
    )
    print(f"\nwall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
