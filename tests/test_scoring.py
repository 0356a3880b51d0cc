"""Batch scoring: one row per partner, priority order, value at risk, actions and reasons, edge cases."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import Program, load_program
from partner_churn.config import Config, load_config
from partner_churn.errors import InputError
from retention.actions import ActionTable, default_actions_path
from scoring.scores import ScoringModels
from serving.batch import RISK_LIST_COLUMNS, score_partners
from serving.history import entry_path, partner_history, previous_scoring
from serving.outputs import MANIFEST, scoring_dates, scoring_lock, write_scoring
from serving.today import CRM_COLUMNS, contacts_due
from tests.support import FAST_SETTINGS
from training.result import TrainingResult

AS_OF = pd.Timestamp("2026-07-01", tz="UTC")
CONFIG = load_config(env={}, overrides=FAST_SETTINGS)


@pytest.fixture(scope="module")
def program(generated_dir: Path) -> Program:
    return load_program(generated_dir, Config().data, pd.Timestamp("2026-11-01", tz="UTC"))


@pytest.fixture(scope="module")
def models(fast_training: TrainingResult) -> ScoringModels:
    return ScoringModels(fast_training.models["deactivation_risk"], "7", fast_training.models["upgrade_potential"], "4")


@pytest.fixture(scope="module")
def actions() -> ActionTable:
    return ActionTable.load(default_actions_path())


@pytest.fixture(scope="module")
def scored(program: Program, models: ScoringModels, actions: ActionTable) -> pd.DataFrame:
    return score_partners(program.partners, program.events, AS_OF, CONFIG, models, actions, previous=None)


def test_one_row_per_partner_with_the_risk_list_columns_first(scored: pd.DataFrame, program: Program) -> None:
    assert len(scored) == int((program.partners["signup_at"] < AS_OF).sum())
    assert scored["partner_id"].is_unique
    assert list(scored.columns[: len(RISK_LIST_COLUMNS)]) == RISK_LIST_COLUMNS
    assert (scored["model_version"] == "partner-churn-deactivation-risk:v7 partner-churn-upgrade-potential:v4").all()


def test_risk_only_for_active_partners_and_potential_for_all(scored: pd.DataFrame) -> None:
    active = scored["days_since_last_activity"] <= 30
    assert scored.loc[active, "deactivation_risk"].between(0, 1).all()
    assert scored.loc[~active, "deactivation_risk"].isna().all()
    assert (scored.loc[~active, "risk_band"] == "inactive").all()
    assert scored["upgrade_potential"].between(0, 1).all()


def test_sorted_by_value_at_risk_computed_as_defined(scored: pd.DataFrame) -> None:
    assert scored["value_at_risk"].is_monotonic_decreasing
    expected = scored["revenue_90d"] * 30 / 90
    np.testing.assert_allclose(scored["expected_revenue"], expected)
    upper = scored["segment"].isin(["workhorse", "star"])
    np.testing.assert_allclose(scored.loc[upper, "value_at_risk"], (scored["deactivation_risk"].fillna(0) * expected)[upper])
    typical = expected[scored["segment"] == "workhorse"].median()
    lower = ~upper
    np.testing.assert_allclose(scored.loc[lower, "value_at_risk"], (scored["upgrade_potential"] * (typical - expected).clip(lower=0))[lower])


def test_every_partner_gets_one_action_and_reasons(scored: pd.DataFrame, actions: ActionTable) -> None:
    codes = {action.code for action in actions.actions}
    assert scored["action"].isin(codes).all()
    assert (scored["reasons"].str.len() > 0).mean() > 0.95
    risky = scored[scored["risk_band"] == "high"].head(20)
    assert risky["reasons"].str.count(r" \| ").le(2).all()


@pytest.mark.parametrize("target", ["deactivation_risk", "upgrade_potential"])
def test_a_large_batch_is_explained_as_rows_a_few_at_a_time(program: Program, models: ScoringModels, target: str) -> None:
    """TrainedModel.contributions on more than GROUPED_FROM_ROWS rows (TreeSHAP grouped per tree,
    tests/test_treeshap.py) gives every row what LightGBM's own call gives it in batches of 400."""
    from features.pipeline import build_features
    from training.treeshap import GROUPED_FROM_ROWS

    model = models.risk if target == "deactivation_risk" else models.potential
    assert model is not None
    features = build_features(program.partners, program.events, [AS_OF - pd.Timedelta(days=d) for d in (0, 45)], CONFIG)
    rows = features.sample(n=GROUPED_FROM_ROWS + 500, replace=len(features) < GROUPED_FROM_ROWS + 500, random_state=3).reset_index(drop=True)
    large = model.contributions(rows)
    small = np.vstack([model.contributions(rows.iloc[i : i + 400]) for i in range(0, len(rows), 400)])
    assert np.abs(large).sum() > 0
    np.testing.assert_allclose(large, small, rtol=0, atol=1e-12)


def test_the_first_scoring_compares_with_nothing(scored: pd.DataFrame) -> None:
    """No earlier scoring: no segment then, no change, no trend (not a made-up scoring of a week before)."""
    assert (scored["segment_change"] == "first_scoring").all() and scored["previous_segment"].isna().all()
    assert scored[["previous_risk", "risk_change", "risk_trend"]].isna().all().all()
    high = scored["risk_band"] == "high"
    assert high.any() and (scored.loc[high, "weeks_in_high_band"] == 0).all() and (scored.loc[high, "high_band_since"] == AS_OF).all()


def test_russian_output(program: Program, models: ScoringModels, actions: ActionTable) -> None:
    config = CONFIG.model_copy(update={"scoring": CONFIG.scoring.model_copy(update={"lang": "ru"})})
    ru = score_partners(program.partners, program.events, AS_OF, config, models, actions, previous=None)
    cyrillic = r"[А-Яа-яЁё]"
    assert ru["action_title"].str.contains(cyrillic).all()
    assert ru.loc[ru["reasons"] != "", "reasons"].str.contains(cyrillic).all()


def test_empty_program_gives_an_empty_list(program: Program, models: ScoringModels, actions: ActionTable) -> None:
    early = pd.Timestamp("2024-01-01", tz="UTC")
    empty = score_partners(program.partners, program.events, early, CONFIG, models, actions, previous=None)
    assert empty.empty and list(empty.columns[: len(RISK_LIST_COLUMNS)]) == RISK_LIST_COLUMNS


def test_program_with_no_active_partners(program: Program, models: ScoringModels, actions: ActionTable) -> None:
    late = pd.Timestamp("2027-06-01", tz="UTC")
    scored = score_partners(program.partners, program.events, late, CONFIG, models, actions, previous=None)
    assert len(scored) == len(program.partners)
    assert scored["deactivation_risk"].isna().all() and (scored["risk_band"] == "inactive").all()
    assert scored["action"].notna().all()


def test_outputs_and_previous_scoring(scored: pd.DataFrame, tmp_path: Path) -> None:
    folder = write_scoring(scored, "<html>en</html>", tmp_path, AS_OF, {"active_partners": 3}, lang="en")
    assert folder == tmp_path / "2026-07-01"
    back = pd.read_parquet(folder / "risk_list.parquet")
    assert len(back) == len(scored) and list(back.columns) == list(scored.columns)
    assert pd.read_csv(folder / "risk_list.csv").shape == scored.shape
    with zipfile.ZipFile(folder / "risk_list.en.xlsx") as book:  # an .xlsx is a zip of XML parts
        text = book.read("xl/sharedStrings.xml").decode()
    assert scored["partner_id"].iloc[0] in text and "Value at risk" in text
    assert (folder / "report.en.html").read_text(encoding="utf-8") == "<html>en</html>"
    owners = sorted(contacts_due(scored, AS_OF)["owner"].unique())
    assert owners, "setup: the scored program has personal contacts this week"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(f"contacts_{o}.en.csv" for o in owners), "report.en.html", "risk_list.csv", "risk_list.parquet", "risk_list.en.xlsx", MANIFEST]
    )
    with zipfile.ZipFile(folder / "risk_list.en.xlsx") as book:
        workbook = book.read("xl/workbook.xml").decode()
    assert workbook.index('name="This week"') < workbook.index('name="Risk list"') < workbook.index('name="Definitions"')  # contacts first
    tasks = pd.read_csv(folder / f"contacts_{owners[0]}.en.csv")
    assert list(tasks.columns) == list(CRM_COLUMNS.values()) and (tasks["Task owner"] == owners[0]).all()
    later = pd.Timestamp("2026-07-08", tz="UTC")
    assert scoring_dates(tmp_path) == [AS_OF] and previous_scoring(tmp_path, later).as_of == AS_OF
    assert previous_scoring(tmp_path, AS_OF) is None  # the first scoring: nothing before it, no made-up week-earlier one
    # A forced scoring of nobody is never "the previous scoring", nor the latest risk list monitoring reads.
    write_scoring(scored.head(0), "", tmp_path, later - pd.Timedelta(days=1), {"active_partners": 0}, lang="en")
    assert previous_scoring(tmp_path, later).as_of == AS_OF
    assert scoring_dates(tmp_path) == [AS_OF] and len(scoring_dates(tmp_path, with_active_partners=False)) == 2


def test_three_weekly_scorings_make_a_history(program: Program, models: ScoringModels, actions: ActionTable, tmp_path: Path) -> None:
    """Scored a week apart, as `partner-churn score` does: each scoring compares with the previous one in
    the history; previous risk, change, trend and weeks in the high band follow partner by partner."""
    days = [AS_OF - pd.Timedelta(days=14), AS_OF - pd.Timedelta(days=7), AS_OF]
    config = load_config(env={}, overrides=["scoring.risk_band_high=0.3", "scoring.risk_trend_step=0.02"])  # non-default bands and step
    lists = []
    for day in days:
        previous = previous_scoring(tmp_path, day)
        assert (previous.as_of if previous is not None else None) == (lists[-1]["as_of"].iloc[0] if lists else None)
        scored = score_partners(program.partners, program.events, day, config, models, actions, previous=previous)
        write_scoring(scored, "", tmp_path, day, {"active_partners": int(scored["deactivation_risk"].notna().sum())}, lang="en")
        lists.append(scored.set_index("partner_id"))
    first, second, third = lists
    assert (first["segment_change"] == "first_scoring").all() and first["previous_risk"].isna().all() and first["risk_trend"].isna().all()
    high1 = first["risk_band"] == "high"
    assert (first.loc[high1, "high_band_since"] == days[0]).all() and (first.loc[high1, "weeks_in_high_band"] == 0).all()

    for now, then, day in ((second, first, days[1]), (third, second, days[2])):
        then = then.reindex(now.index)
        np.testing.assert_allclose(now["previous_risk"].to_numpy(float), then["deactivation_risk"].to_numpy(float), rtol=0, atol=0)
        np.testing.assert_allclose(now["risk_change"], now["deactivation_risk"] - then["deactivation_risk"], rtol=0, atol=1e-15)
        change = now["risk_change"].to_numpy(float)
        expected = np.select([np.isnan(change), change >= 0.02, change <= -0.02], [None, "↑", "↓"], default="→")
        assert list(now["risk_trend"]) == list(expected)
        assert (now["previous_segment"].fillna("?") == then["segment"].fillna("?")).all()
        stayed = (now["risk_band"] == "high") & (then["risk_band"] == "high")
        entered = (now["risk_band"] == "high") & (then["risk_band"] != "high")
        assert stayed.sum() >= 5 and entered.sum() >= 5, "setup: partners stay in and enter the high band"
        assert (now.loc[stayed, "high_band_since"] == then.loc[stayed, "high_band_since"]).all()
        assert (now.loc[entered, "high_band_since"] == day).all() and (now.loc[entered, "weeks_in_high_band"] == 0).all()
        assert now.loc[now["risk_band"] != "high", ["high_band_since", "weeks_in_high_band"]].isna().all().all()
    always = (
        (first["risk_band"] == "high").reindex(third.index, fill_value=False)
        & (second["risk_band"] == "high").reindex(third.index, fill_value=False)
        & (third["risk_band"] == "high")
    )
    assert always.sum() >= 3, "setup: some partners are high in all three scorings"
    assert (third.loc[always, "weeks_in_high_band"] == 2).all() and (third.loc[always, "high_band_since"] == days[0]).all()
    new = third.index.difference(second.index)
    assert len(new) and (third.loc[new, "segment_change"] == "new").all() and third.loc[new, "previous_risk"].isna().all()

    partner = always[always].index[0]
    history = partner_history(tmp_path, partner)
    assert list(history["as_of"]) == days and list(history["weeks_in_high_band"]) == [0, 1, 2]
    np.testing.assert_allclose(history["deactivation_risk"], [lists[i].loc[partner, "deactivation_risk"] for i in range(3)])


def test_a_failed_write_leaves_the_previous_scoring_of_the_date_intact(scored: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_scoring(scored, "first", tmp_path, AS_OF, {"active_partners": 1}, lang="en")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def full_disk(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)  # the second file staged: the parquet is already written
    with pytest.raises(
        InputError, match=r"cannot write the scoring of 2026-07-01 to .*: No space left on device; the files already there are left as they were"
    ):
        write_scoring(scored.head(5), "second", tmp_path, AS_OF, {"active_partners": 1}, lang="en")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # same files, same bytes, no temporary left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-07-01", "history"]  # no staging folder left either
    assert len(pd.read_parquet(entry_path(tmp_path, AS_OF))) == len(scored)  # and the history's entry is the first scoring's


def test_a_rescoring_replaces_the_whole_folder_in_one_step(scored: pd.DataFrame, tmp_path: Path) -> None:
    """The staged folder is swapped with the old one (renameat2 RENAME_EXCHANGE), not filled file by file: a
    reader, or a crash, sees one scoring's files or the other's. A file a user put in the folder stays; the
    staging folder of a scoring killed before its swap is cleared."""
    import os

    folder = write_scoring(scored, "first", tmp_path, AS_OF, {"active_partners": 1}, lang="en")
    (folder / "notes.txt").write_text("called Monday")
    killed = tmp_path / ".2026-07-01.99999.staging"
    killed.mkdir()
    (killed / "risk_list.csv").write_text("half")
    before = os.stat(folder).st_ino

    again = write_scoring(scored.head(3), "second", tmp_path, AS_OF, {"active_partners": 1}, lang="en")
    assert again == folder and os.stat(folder).st_ino != before  # another directory took the path: a swap
    assert (folder / "report.en.html").read_text() == "second" and len(pd.read_parquet(folder / "risk_list.parquet")) == 3
    assert (folder / "notes.txt").read_text() == "called Monday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-07-01", "history"]
    assert len(pd.read_parquet(entry_path(tmp_path, AS_OF))) == 3  # the rescoring's entry replaced the first one


def test_a_scoring_in_one_language_keeps_the_other_languages_files(scored: pd.DataFrame, tmp_path: Path) -> None:
    """`--lang ru` then `--lang en` of one date: each language's report, spreadsheet and contacts stay; the
    language-free files are the latest scoring's. A rescoring in a language replaces that language's files,
    a contacts file of an owner with nobody due now included, and the unlabelled files of old."""
    folder = write_scoring(scored, "ru", tmp_path, AS_OF, {"active_partners": 1, "lang": "ru"}, lang="ru")
    owners = sorted(contacts_due(scored, AS_OF)["owner"].unique())
    russian = {name: (folder / name).read_bytes() for name in [*(f"contacts_{o}.ru.csv" for o in owners), "report.ru.html", "risk_list.ru.xlsx"]}
    (folder / "report.html").write_text("from before languages")  # the layout of old: replaced by the next scoring
    (folder / "contacts_nobody_now.ru.csv").write_text("stale")  # of an owner with nobody due at the next Russian scoring

    write_scoring(scored.head(40), "en", tmp_path, AS_OF, {"active_partners": 1, "lang": "en"}, lang="en")
    names = {p.name for p in folder.iterdir()}
    assert {name: (folder / name).read_bytes() for name in russian} == russian  # the Russian files as they were
    assert (folder / "contacts_nobody_now.ru.csv").read_text() == "stale"  # Russian: not this scoring's to replace
    assert (folder / "report.en.html").read_text() == "en" and "risk_list.en.xlsx" in names
    assert {f"contacts_{o}.en.csv" for o in contacts_due(scored.head(40), AS_OF)["owner"].unique()} <= names
    assert len(pd.read_parquet(folder / "risk_list.parquet")) == 40 and '"lang": "en"' in (folder / MANIFEST).read_text()
    assert "report.html" not in names

    write_scoring(scored.head(40), "ru again", tmp_path, AS_OF, {"active_partners": 1}, lang="ru")
    names = {p.name for p in folder.iterdir()}
    ru_owners = set(contacts_due(scored.head(40), AS_OF)["owner"].unique())
    assert {n for n in names if n.endswith(".ru.csv")} == {f"contacts_{o}.ru.csv" for o in ru_owners}  # no stale one left
    assert (folder / "report.ru.html").read_text() == "ru again" and (folder / "report.en.html").read_text() == "en"
    with pytest.raises(ValueError, match="unknown language 'de'"):
        write_scoring(scored, "de", tmp_path, AS_OF, {"active_partners": 1}, lang="de")


def test_a_second_scoring_of_the_same_date_refuses_while_the_first_runs(tmp_path: Path) -> None:
    import os

    with scoring_lock(tmp_path, AS_OF):
        with pytest.raises(InputError, match=rf"another scoring of 2026-07-01 is running \(process {os.getpid()}, lock .*\.2026-07-01\.lock\)"):
            with scoring_lock(tmp_path, AS_OF):
                pass
        with scoring_lock(tmp_path, AS_OF + pd.Timedelta(days=1)):  # another date is free
            pass
    with scoring_lock(tmp_path, AS_OF):  # released when the first is done
        pass


@pytest.mark.parametrize("missing", ["upgrade_potential", "deactivation_risk"])
def test_each_model_stands_on_its_own(program: Program, models: ScoringModels, actions: ActionTable, scored: pd.DataFrame, missing: str) -> None:
    """Without one model the other still scores the same partners with the same numbers; the missing score is
    empty, its band 'unavailable', and nothing of it is in value at risk."""
    why = f"no registered model for {missing}"
    alone = (
        ScoringModels(models.risk, "7", None, None, unavailable={missing: why})
        if missing == "upgrade_potential"
        else ScoringModels(None, None, models.potential, "4", unavailable={missing: why})
    )
    one = score_partners(program.partners, program.events, AS_OF, CONFIG, alone, actions, previous=None)
    assert len(one) == len(scored)
    both = scored.set_index("partner_id").loc[one["partner_id"]]
    kept = "deactivation_risk" if missing == "upgrade_potential" else "upgrade_potential"
    np.testing.assert_allclose(one[kept].to_numpy(float), both[kept].to_numpy(float))
    assert one[missing].isna().all()
    active = (one["days_since_last_activity"] <= 30).to_numpy()
    if missing == "upgrade_potential":
        assert (one["potential_band"] == "unavailable").all()
        assert one["model_version"].iloc[0] == "partner-churn-deactivation-risk:v7 partner-churn-upgrade-potential:unavailable"
        assert (one.loc[one["segment"].isin(["newbie", "sleeper"]), "value_at_risk"] == 0).all()
        assert not (one["reasons_source"] == "potential_model").any()
    else:
        assert (one.loc[active, "risk_band"] == "unavailable").all() and (one.loc[~active, "risk_band"] == "inactive").all()
        assert one["model_version"].iloc[0] == "partner-churn-deactivation-risk:unavailable partner-churn-upgrade-potential:v4"
        assert (one.loc[one["segment"].isin(["workhorse", "star"]), "value_at_risk"] == 0).all()
        assert not (one["reasons_source"] == "risk_model").any()
    assert one["action"].notna().all() and one["value_at_risk"].notna().all()


def test_no_model_at_all_is_one_clear_error() -> None:
    from partner_churn.errors import InputError

    with pytest.raises(InputError, match="no model to score with: risk: none; potential: none"):
        ScoringModels(None, None, None, None, unavailable={"deactivation_risk": "risk: none", "upgrade_potential": "potential: none"})


def test_the_risk_list_says_how_far_the_models_knowledge_reaches(scored: pd.DataFrame, models: ScoringModels) -> None:
    """`trained_through` is the end of the newest training label window of the models in use; a scoring long
    after it gets a warning in one line."""
    through = min(models.risk.trained_through, models.potential.trained_through)[:10]
    assert (scored["trained_through"] == through).all()
    horizon = pd.Timedelta(days=CONFIG.labels.horizon_days)
    newest_train_cutoff = max(pd.Timestamp(c) for c in models.risk.training_cutoffs)
    assert pd.Timestamp(models.risk.trained_through) == newest_train_cutoff + horizon
    stamp = pd.Timestamp(through, tz="UTC")
    assert models.age_warning(stamp + pd.Timedelta(days=45), CONFIG) == ""
    warning = models.age_warning(stamp + pd.Timedelta(days=46), CONFIG)
    assert warning.startswith(f"the models learned from labels through {through}, 46 days before") and "max_model_age_days, 45" in warning


def test_a_risk_list_written_in_parts_replaces_the_whole_one_and_reads_in_list_order(
    scored: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dask engine's way (`scoring_staging`, a part per partition, then `write_scoring(..., staging=)`) after a
    local scoring of the same date: the parts replace risk_list.parquet, no risk_list.csv of the earlier scoring
    stays beside them, and the parts read back as the whole list in its order; monitoring finds the scoring. A
    failure while the parts are written leaves the earlier scoring as it was, and no staging folder."""
    from monitoring.store import read_risk_list
    from partner_churn.domain import RISK_LIST_ORDER, sort_risk_list
    from serving import outputs
    from serving.outputs import read_risk_list_file, scoring_dates, scoring_lock, scoring_staging, write_risk_list_part

    folder = write_scoring(scored, "local", tmp_path, AS_OF, {"active_partners": 1}, lang="en")
    assert (folder / "risk_list.csv").is_file()
    # The program's rows in some order, two partitions of it (the first rows, the rest), each in list order; the
    # whole list is the program sorted once, its ties in the program's order.
    program = scored.sample(frac=1.0, random_state=3).reset_index(drop=True)
    whole = sort_risk_list(program)
    halves = sort_risk_list(program.iloc[: len(program) // 2]), sort_risk_list(program.iloc[len(program) // 2 :])
    assert whole["partner_id"].tolist() != pd.concat(halves)["partner_id"].tolist()  # the parts interleave in the list
    # A small partition's own column types: integer revenue where nobody sold, a column empty throughout.
    revenue = [c for c in whole.columns if c.startswith("revenue_")][0]
    odd = halves[0].assign(**{revenue: halves[0][revenue].round().astype("int64"), "risk_trend": None})
    whole = pd.concat([odd.astype({revenue: "float64"}), halves[1]]).pipe(sort_risk_list)  # what the whole list holds
    halves = odd, halves[1]
    with scoring_lock(tmp_path, AS_OF):
        with pytest.raises(RuntimeError, match="a worker died"), scoring_staging(tmp_path, AS_OF) as staging:
            write_risk_list_part(staging, 0, halves[0], AS_OF)
            raise RuntimeError("a worker died")
        assert not list(tmp_path.glob("*.staging"))
        assert (folder / "report.en.html").read_text() == "local" and (folder / "risk_list.csv").is_file()
        with scoring_staging(tmp_path, AS_OF) as staging:
            for k, half in enumerate(halves):
                write_risk_list_part(staging, k, half, AS_OF)
            write_scoring(whole, "parts", tmp_path, AS_OF, {"active_partners": 1}, lang="en", staging=staging)
    assert sorted(p.name for p in (folder / "risk_list.parquet").iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert not (folder / "risk_list.csv").exists() and (folder / "report.en.html").read_text() == "parts"
    assert not list(tmp_path.glob("*.staging"))
    pd.testing.assert_frame_equal(read_risk_list_file(folder / "risk_list.parquet"), whole, check_exact=True)
    assert read_risk_list_file(folder / "risk_list.parquet", columns=["partner_id"])["partner_id"].tolist() == whole["partner_id"].tolist()
    assert whole.duplicated(subset=list(RISK_LIST_ORDER)).sum() > 10  # ties, which only the program's order breaks
    assert scoring_dates(tmp_path) == [AS_OF] and len(read_risk_list(tmp_path, AS_OF)) == len(scored)
    # Where renameat2 is missing (the folder filled file by file), the CSV of an earlier local scoring goes too.
    write_scoring(scored, "local again", tmp_path, AS_OF, {"active_partners": 1}, lang="en")
    monkeypatch.setattr(outputs, "exchange_folders", lambda first, second: False)
    with scoring_lock(tmp_path, AS_OF), scoring_staging(tmp_path, AS_OF) as staging:
        write_risk_list_part(staging, 0, whole, AS_OF)
        write_scoring(whole, "parts again", tmp_path, AS_OF, {"active_partners": 1}, lang="en", staging=staging)
    assert (
        not (folder / "risk_list.csv").exists()
        and (folder / "risk_list.parquet").is_dir()
        and (folder / "report.en.html").read_text() == "parts again"
    )
    # A text the summary keeps in none of its rows (null there) keeps its type from the parts that hold it.
    with scoring_lock(tmp_path, AS_OF), scoring_staging(tmp_path, AS_OF) as staging:
        write_risk_list_part(staging, 0, whole, AS_OF)
        write_scoring(whole.assign(reasons=None), "texts elsewhere", tmp_path, AS_OF, {"active_partners": 1}, lang="en", staging=staging)
    assert read_risk_list_file(folder / "risk_list.parquet")["reasons"].tolist() == whole["reasons"].tolist()
    # Nobody to score (every partition empty, --allow-stale): the list of nobody, read as such.
    with scoring_lock(tmp_path, AS_OF), scoring_staging(tmp_path, AS_OF) as staging:
        write_scoring(scored.head(0), "nobody", tmp_path, AS_OF, {"active_partners": 0}, lang="en", staging=staging)
    assert read_risk_list_file(folder / "risk_list.parquet").columns.tolist() == scored.columns.tolist()
    with pytest.raises(InputError, match="the risk list is empty"):
        read_risk_list(tmp_path, AS_OF)
