"""Bands, flags and the action table: every edge, every default rule, one action per partner, bad tables."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.segments import SEGMENTS
from partner_churn.config import ScoringConfig
from partner_churn.errors import ConfigError, InputError
from retention.actions import (
    ACTION_COLUMNS,
    FLAGS,
    POTENTIAL_BANDS,
    RISK_BANDS,
    ActionTable,
    Rule,
    action_columns,
    add_bands_and_flags,
    assign_actions,
    default_actions_path,
    fit_personal_contacts,
    load_action_table,
)

SCORING = ScoringConfig()
DEFAULT = ActionTable.load(default_actions_path())
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


# --------------------------------------------------------------------------- references


def raw_partner(segment: str, risk_band: str, potential_band: str, flags: dict[str, bool]) -> dict[str, Any]:
    """Feature-pipeline values (plus scores) that put a partner in this state under the default config."""
    unpaid, no_onboarding = flags["commission_overdue"], flags["no_onboarding_activity"]
    return {
        "segment": segment,
        "deactivation_risk": {"inactive": math.nan, "low": 0.05, "medium": 0.3, "high": 0.8}[risk_band],
        "upgrade_potential": {"low": 0.1, "high": 0.6}[potential_band],
        "pending_payout_amount": 200.0 if unpaid else 0.0,
        "days_since_last_payout_request": 30.0 if unpaid else math.nan,
        "tenure_days": 5.0 if no_onboarding else 200.0,
        "onboarding_events_72h": 0 if no_onboarding else 3,
        "activity_trend_30d": -0.8 if flags["falling_trend"] else 0.1,
        "downgrade_warning": flags["downgrade_warning"],
        "commission_overdue": 123.0,  # the feature (commission earned minus paid) of the same name as the flag
    }


def reference_matches(rule: Rule, segment: str, risk_band: str, potential_band: str, flags: dict[str, bool]) -> bool:
    when = rule.when
    return (
        (when.segments == "any" or segment in when.segments)
        and (when.risk_bands == "any" or risk_band in when.risk_bands)
        and (when.potential_bands == "any" or potential_band in when.potential_bands)
        and all(flags[name] == wanted for name, wanted in when.flags.items())
    )


def reference_action(table: ActionTable, segment: str, risk_band: str, potential_band: str, flags: dict[str, bool]) -> str:
    matching = [r for r in table.rules if reference_matches(r, segment, risk_band, potential_band, flags)]
    return min(matching, key=lambda r: r.priority).action


def reference_bands(row: pd.Series, config: ScoringConfig) -> dict[str, Any]:
    risk, potential = row["deactivation_risk"], row["upgrade_potential"]
    if math.isnan(risk):
        risk_band = "inactive"
    elif risk >= config.risk_band_high:
        risk_band = "high"
    elif risk >= config.risk_band_medium:
        risk_band = "medium"
    else:
        risk_band = "low"
    request_age = row["days_since_last_payout_request"]
    return {
        "risk_band": risk_band,
        "potential_band": "high" if potential >= config.potential_band_high else "low",
        "commission_overdue": bool(
            row["pending_payout_amount"] >= config.unpaid_commission_min
            and not math.isnan(request_age)
            and request_age >= config.unpaid_commission_min_days
        ),
        "no_onboarding_activity": bool(row["tenure_days"] < config.onboarding_window_days and row["onboarding_events_72h"] == 0),
        "falling_trend": bool(row["activity_trend_30d"] <= config.falling_trend_max),
        "downgrade_warning": bool(row["downgrade_warning"]),
    }


# --------------------------------------------------------------------------- bands and flags


def test_bands_and_flags_at_every_edge() -> None:
    assert (SCORING.risk_band_medium, SCORING.risk_band_high, SCORING.potential_band_high) == (0.2, 0.5, 0.3)
    assert (SCORING.unpaid_commission_min, SCORING.unpaid_commission_min_days) == (50.0, 14)
    assert (SCORING.onboarding_window_days, SCORING.falling_trend_max) == (14, -0.3)
    base = raw_partner("newbie", "low", "low", dict.fromkeys(FLAGS, False))
    #        changes                                                          expected (only what differs from base)
    cases = [
        ({}, {}),
        ({"deactivation_risk": math.nan}, {"risk_band": "inactive"}),
        ({"deactivation_risk": 0.0}, {"risk_band": "low"}),
        ({"deactivation_risk": 0.1999}, {"risk_band": "low"}),
        ({"deactivation_risk": 0.2}, {"risk_band": "medium"}),
        ({"deactivation_risk": 0.4999}, {"risk_band": "medium"}),
        ({"deactivation_risk": 0.5}, {"risk_band": "high"}),
        ({"deactivation_risk": 1.0}, {"risk_band": "high"}),
        ({"upgrade_potential": 0.2999}, {"potential_band": "low"}),
        ({"upgrade_potential": 0.3}, {"potential_band": "high"}),
        ({"pending_payout_amount": 50.0, "days_since_last_payout_request": 14.0}, {"commission_overdue": True}),
        ({"pending_payout_amount": 49.99, "days_since_last_payout_request": 14.0}, {}),
        ({"pending_payout_amount": 50.0, "days_since_last_payout_request": 13.9}, {}),
        ({"pending_payout_amount": 500.0, "days_since_last_payout_request": math.nan}, {}),
        ({"pending_payout_amount": math.nan, "days_since_last_payout_request": 40.0}, {}),
        ({"tenure_days": 13.99, "onboarding_events_72h": 0}, {"no_onboarding_activity": True}),
        ({"tenure_days": 14.0, "onboarding_events_72h": 0}, {}),
        ({"tenure_days": 0.5, "onboarding_events_72h": 1}, {}),
        ({"activity_trend_30d": -0.3}, {"falling_trend": True}),
        ({"activity_trend_30d": -1.0}, {"falling_trend": True}),
        ({"activity_trend_30d": -0.2999}, {}),
        ({"downgrade_warning": True}, {"downgrade_warning": True}),
    ]
    frame = pd.DataFrame([{**base, **changes} for changes, _ in cases], index=[f"p{i}" for i in range(len(cases))])
    out = add_bands_and_flags(frame, SCORING)
    expected_base = {"risk_band": "low", "potential_band": "low", **dict.fromkeys(FLAGS, False)}
    for (changes, expected), (_, row) in zip(cases, out.iterrows()):
        got = {key: (bool(row[key]) if key in FLAGS else row[key]) for key in expected_base}
        assert got == {**expected_base, **expected}, changes
    assert list(out.index) == list(frame.index)
    assert all(out[flag].dtype == bool for flag in FLAGS)
    assert frame["commission_overdue"].eq(123.0).all(), "the input frame keeps the feature of the flag's name"


def test_bands_follow_the_configured_thresholds() -> None:
    config = ScoringConfig(risk_band_medium=0.1, risk_band_high=0.9, potential_band_high=0.7, falling_trend_max=-0.9)
    row = raw_partner("star", "medium", "high", {**dict.fromkeys(FLAGS, False), "falling_trend": True})
    out = add_bands_and_flags(pd.DataFrame([row]), config).iloc[0]
    assert (out["risk_band"], out["potential_band"], bool(out["falling_trend"])) == ("medium", "low", False)


def test_bands_refuse_missing_columns_and_missing_potential() -> None:
    row = raw_partner("star", "low", "low", dict.fromkeys(FLAGS, False))
    with pytest.raises(InputError, match="missing column.*upgrade_potential"):
        add_bands_and_flags(pd.DataFrame([row]).drop(columns="upgrade_potential"), SCORING)
    with pytest.raises(InputError, match="'upgrade_potential' has 1 missing"):
        add_bands_and_flags(pd.DataFrame([{**row, "upgrade_potential": math.nan}]), SCORING)


# --------------------------------------------------------------------------- the default table


def winning_state(table: ActionTable, rule: Rule) -> tuple[str, str, str, dict[str, bool]] | None:
    """A state built from the rule's own conditions where no rule with a lower priority number matches."""
    when = rule.when
    segments = SEGMENTS if when.segments == "any" else when.segments
    risk_bands = RISK_BANDS if when.risk_bands == "any" else when.risk_bands
    potential_bands = POTENTIAL_BANDS if when.potential_bands == "any" else when.potential_bands
    flag_values = [[when.flags[f]] if f in when.flags else [False, True] for f in FLAGS]
    for segment, risk, potential, *values in itertools.product(segments, risk_bands, potential_bands, *flag_values):
        flags = dict(zip(FLAGS, values))
        earlier = [r for r in table.rules if r.priority < rule.priority and reference_matches(r, segment, risk, potential, flags)]
        if not earlier:
            return segment, risk, potential, flags
    return None


@pytest.mark.parametrize("rule", DEFAULT.rules, ids=[f"{r.action}-p{r.priority}" for r in DEFAULT.rules])
def test_every_default_rule_fires_on_a_partner_built_for_it(rule: Rule) -> None:
    state = winning_state(DEFAULT, rule)
    assert state is not None, f"no partner matching {rule} escapes the rules before it"
    scored = add_bands_and_flags(pd.DataFrame([raw_partner(*state)]), SCORING)
    assert (scored.iloc[0]["risk_band"], scored.iloc[0]["potential_band"]) == state[1:3]
    assert assign_actions(scored, DEFAULT, "en")["action"].iloc[0] == rule.action


def test_money_owed_comes_before_everything() -> None:
    for segment, risk in itertools.product(SEGMENTS, RISK_BANDS):
        flags = {**dict.fromkeys(FLAGS, True)}
        scored = add_bands_and_flags(pd.DataFrame([raw_partner(segment, risk, "high", flags)]), SCORING)
        assert assign_actions(scored, DEFAULT, "en")["action"].iloc[0] == "unpaid_commission_reminder"


def test_default_table_has_both_languages_and_every_action_is_used() -> None:
    for action in DEFAULT.actions:
        assert CYRILLIC.search(action.title.ru) and CYRILLIC.search(action.description.ru), action.code
        assert not CYRILLIC.search(action.title.en + action.description.en), action.code
    assert {a.code for a in DEFAULT.actions} == {r.action for r in DEFAULT.rules}


def test_configured_table_or_the_shipped_default(tmp_path: Path) -> None:
    assert default_actions_path().is_file()
    assert load_action_table(ScoringConfig()) == DEFAULT
    own = tmp_path / "own.yaml"
    own.write_text(minimal_table(rules=CATCH_ALL))
    assert [a.code for a in load_action_table(ScoringConfig(actions_file=own)).actions] == ["a", "b"]


# --------------------------------------------------------------------------- one action per partner


def random_partners(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    risk = rng.choice([0.0, 0.1, 0.2, 0.35, 0.5, 0.9], n)
    risk[rng.random(n) < 0.2] = np.nan
    requested = rng.random(n) < 0.7
    frame = pd.DataFrame(
        {
            "segment": rng.choice(SEGMENTS, n),
            "deactivation_risk": risk,
            "upgrade_potential": rng.choice([0.0, 0.29, 0.3, 0.8], n),
            "pending_payout_amount": rng.choice([0.0, 49.0, 50.0, 400.0], n) * requested,
            "days_since_last_payout_request": np.where(requested, rng.choice([0.0, 13.0, 14.0, 60.0], n), np.nan),
            "tenure_days": rng.choice([0.5, 13.0, 14.0, 100.0, 700.0], n),
            "onboarding_events_72h": rng.choice([0, 0, 1, 5], n),
            "activity_trend_30d": rng.choice([-1.0, -0.3, -0.1, 0.0, 0.6], n),
            "downgrade_warning": rng.random(n) < 0.2,
            "revenue_90d": rng.exponential(100.0, n),
        }
    )
    frame.index = pd.Index(rng.permutation(n) * 7 + 3, name="row")  # not a default RangeIndex: alignment counts
    return frame


def test_exactly_one_action_per_partner_matches_the_brute_force_reference() -> None:
    partners = random_partners(2_000, seed=5)
    scored = add_bands_and_flags(partners, SCORING)
    actions = assign_actions(scored, DEFAULT, "en")
    assert list(actions.columns) == list(ACTION_COLUMNS)
    assert actions.index.equals(partners.index) and len(actions) == 2_000
    assert actions.notna().all().all()
    assert set(actions["action"]) <= {a.code for a in DEFAULT.actions}
    for label, row in partners.iterrows():
        bands = reference_bands(row, SCORING)
        assert {k: (bool(scored.at[label, k]) if k in FLAGS else scored.at[label, k]) for k in bands} == bands
        flags = {f: bands[f] for f in FLAGS}
        expected = reference_action(DEFAULT, row["segment"], bands["risk_band"], bands["potential_band"], flags)
        assert actions.at[label, "action"] == expected
        action = DEFAULT.action(expected)
        assert (actions.at[label, "action_title"], actions.at[label, "channel"], actions.at[label, "owner"]) == (
            action.title.en,
            action.channel,
            action.owner,
        )
        assert actions.at[label, "due_in_days"] == action.due_in_days
    assert len(set(actions["action"])) >= 10, "a random program should see most of the table"


def test_russian_titles_and_descriptions_with_lang_ru() -> None:
    scored = add_bands_and_flags(random_partners(300, seed=6), SCORING)
    english, russian = assign_actions(scored, DEFAULT, "en"), assign_actions(scored, DEFAULT, "ru")
    assert russian["action"].equals(english["action"])
    for code, title, description in zip(russian["action"], russian["action_title"], russian["action_description"]):
        assert (title, description) == (DEFAULT.action(code).title.ru, DEFAULT.action(code).description.ru)
        assert CYRILLIC.search(title) and CYRILLIC.search(description)
    starter = add_bands_and_flags(
        pd.DataFrame([raw_partner("newbie", "inactive", "low", {**dict.fromkeys(FLAGS, False), "no_onboarding_activity": True})]),
        SCORING,
    )
    assert assign_actions(starter, DEFAULT, "ru")["action_title"].iloc[0] == "Стартовый бонус за первого клиента"
    with pytest.raises(ConfigError, match="unknown language 'de'"):
        assign_actions(scored, DEFAULT, "de")


def test_assign_actions_refuses_unknown_states() -> None:
    scored = add_bands_and_flags(random_partners(10, seed=1), SCORING)
    with pytest.raises(InputError, match="'segment' holds unknown value.*stars"):
        assign_actions(scored.assign(segment="stars"), DEFAULT, "en")
    with pytest.raises(InputError, match="missing column.*risk_band"):
        assign_actions(scored.drop(columns="risk_band"), DEFAULT, "en")
    with pytest.raises(InputError, match="'falling_trend' must be boolean"):
        assign_actions(scored.assign(falling_trend=np.nan), DEFAULT, "en")
    assert assign_actions(scored.iloc[:0], DEFAULT, "en").empty


# --------------------------------------------------------------------------- bad tables


ACTIONS = """\
actions:
  - code: a
    title: {en: A, ru: А}
    description: {en: Do A, ru: Сделать А}
    channel: email
    owner: automation
    due_in_days: 0
  - code: b
    title: {en: B, ru: Б}
    description: {en: Do B, ru: Сделать Б}
    channel: phone
    owner: retention_team
    due_in_days: 2
"""
PERSONAL = """\
personal_contact:
  min_value_at_risk: {phone: 10}
  daily_capacity: {retention_team: 2}
  automated: {star: a, workhorse: a, newbie: a, sleeper: a}
"""
CATCH_ALL = """\
rules:
  - action: b
    priority: 10
    when: {risk_bands: [high]}
  - action: a
    priority: 100
"""


def minimal_table(actions: str = ACTIONS, rules: str = CATCH_ALL, personal: str = PERSONAL) -> str:
    return actions + rules + personal


def test_minimal_table_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(minimal_table())
    table = ActionTable.load(path)
    partners = add_bands_and_flags(random_partners(200, seed=2), SCORING)
    actions = assign_actions(partners, table, "en")["action"]
    assert (actions == np.where(partners["risk_band"] == "high", "b", "a")).all()


BAD_TABLES = {
    "conflict": (
        "rules:\n  - action: a\n    priority: 10\n    when: {segments: [star]}\n"
        "  - action: b\n    priority: 10\n    when: {risk_bands: [high]}\n"
        "  - action: a\n    priority: 100\n",
        r"conflict: rule 1 \(a, priority 10\) and rule 2 \(b, priority 10\).*e\.g\. segment=star, risk_band=high",
    ),
    "gap": (
        "rules:\n  - action: a\n    priority: 10\n    when: {segments: [star, workhorse, newbie]}\n"
        "  - action: b\n    priority: 20\n    when: {segments: [sleeper], flags: {falling_trend: true}}\n",
        r"gap: 64 of 512 partner states match no rule, e\.g\. segment=sleeper, .*falling_trend=no",
    ),
    "unknown action code": (
        "rules:\n  - action: c\n    priority: 10\n",
        r"rule 1 \(c, priority 10\): unknown action code 'c' \(defined: a, b\)",
    ),
    "unknown flag": (
        "rules:\n  - action: a\n    priority: 10\n    when: {flags: {falling: true}}\n  - action: b\n    priority: 20\n",
        r"rule 1 \(a, priority 10\): 'when\.flags': unknown flag\(s\) \['falling'\] \(known: commission_overdue",
    ),
    "typo key in a rule": (
        "rules:\n  - action: b\n    priority: 20\n  - action: a\n    priority: 10\n    wehn: {segments: [star]}\n",
        r"rule 2 \(a, priority 10\): unknown key 'wehn' \(allowed here: action, priority, when\)",
    ),
    "typo key in conditions": (
        "rules:\n  - action: a\n    priority: 10\n    when: {segment: [star]}\n",
        r"rule 1 \(a, priority 10\): unknown key 'when\.segment' \(allowed here: segments, risk_bands",
    ),
    "unknown segment": (
        "rules:\n  - action: a\n    priority: 10\n    when: {segments: [stars]}\n",
        r"rule 1 \(a, priority 10\): 'when\.segments': unknown segment\(s\) \['stars'\]",
    ),
    "not a list": (
        "rules:\n  - action: a\n    priority: 10\n    when: {potential_bands: 3}\n",
        r"rule 1 \(a, priority 10\): 'when\.potential_bands': expected a list of names or 'any', got 3",
    ),
    "unknown band": (
        "rules:\n  - action: a\n    priority: 10\n    when: {risk_bands: [critical]}\n",
        r"rule 1 \(a, priority 10\): 'when\.risk_bands': unknown risk band\(s\) \['critical'\]",
    ),
    "rule that never applies": (
        "rules:\n  - action: a\n    priority: 10\n  - action: b\n    priority: 20\n    when: {segments: [star]}\n",
        r"rule 2 \(b, priority 20\) never applies",
    ),
}


@pytest.mark.parametrize("rules", BAD_TABLES.values(), ids=BAD_TABLES.keys())
def test_bad_rules_are_config_errors_naming_file_and_rule(tmp_path: Path, rules: tuple[str, str]) -> None:
    text, message = rules
    assert_refused(tmp_path, minimal_table(rules=text), message)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (ACTIONS.replace("    title: {en: A, ru: А}", "    titel: {en: A, ru: А}"), r"action 1 \(a\): unknown key 'titel'.*title"),
        (ACTIONS.replace("{en: B, ru: Б}", "{en: B}"), r"action 2 \(b\): 'title\.ru': Field required"),
        (ACTIONS.replace("channel: phone", "channel: pigeon"), r"action 2 \(b\): 'channel': Input should be"),
        (ACTIONS.replace("due_in_days: 2", "due_in_days: -1"), r"action 2 \(b\): 'due_in_days': .*greater than or equal to 0"),
        (ACTIONS.replace("code: b", "code: a"), r"action code\(s\) \['a'\] defined more than once"),
        (ACTIONS.replace("  - code: b", "  - code: b\n    code: b"), r"line \d+: not valid YAML \(key 'code' given twice"),
        ("actions: [\n", r"not valid YAML"),
    ],
    ids=["typo key", "missing ru", "unknown channel", "negative due", "duplicate code", "duplicate key", "bad yaml"],
)
def test_bad_actions_are_config_errors(tmp_path: Path, actions: str, message: str) -> None:
    assert_refused(tmp_path, minimal_table(actions=actions), message)


def assert_refused(tmp_path: Path, table: str, message: str) -> None:
    """Loading `table` is a one-line ConfigError naming the file, matching `message`."""
    path = tmp_path / "bad_actions.yaml"
    path.write_text(table)
    with pytest.raises(ConfigError, match=r"bad_actions\.yaml:.*" + message) as caught:
        ActionTable.load(path)
    assert "\n" not in str(caught.value)


def test_missing_table_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: action table not found"):
        ActionTable.load(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- a person's time


def contacts(table: ActionTable, values: list[float], *, capacity: bool, expected: list[float] | None = None) -> dict[str, np.ndarray]:
    """Partners p0.. all at high risk (so action b, a call) with these values at risk, through the public path."""
    n = len(values)
    columns = {
        "partner_id": np.array([f"p{i}" for i in range(n)], dtype=object),
        "segment": np.array(["workhorse"] * n, dtype=object),
        "risk_band": np.array(["high"] * n, dtype=object),
        "potential_band": np.array(["low"] * n, dtype=object),
        **{flag: np.zeros(n, bool) for flag in FLAGS},
        "value_at_risk": np.array(values, float),
        "expected_revenue": np.array(expected or [100.0] * n, float),
    }
    return fit_personal_contacts(columns, action_columns(columns, table, "en"), table, "en", capacity=capacity)


def test_calls_go_to_partners_worth_them_most_valuable_first_within_each_owners_capacity(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(minimal_table())
    table = ActionTable.load(path)
    # Worth a call (>= 10): 7 partners, 2 a day, b is due within 2 days: days 0, 0, 1, 1, 2, 2; the 7th finds no room.
    out = contacts(table, [12.0, 50.0, 5.0, 30.0, 11.0, 40.0, 0.0, 20.0, 15.0], capacity=True)
    assert out["personal_contact"].tolist() == [
        "scheduled",
        "scheduled",
        "below_minimum_value",
        "scheduled",
        "over_capacity",
        "scheduled",
        "below_minimum_value",
        "scheduled",
        "scheduled",
    ]
    assert out["due_in_days"].tolist() == [2, 0, 0, 1, 0, 0, 0, 1, 2]  # 50, 40 today; 30, 20 tomorrow; 15, 12 the day after
    assert out["action"].tolist() == ["b", "b", "a", "b", "a", "b", "a", "b", "b"]
    assert (
        out["channel"][2] == "email" and out["owner"][2] == "automation" and out["action_title"][2] == "A" and out["action_description"][2] == "Do A"
    )
    # Without the whole population (a service request), only the minimum applies.
    alone = contacts(table, [12.0, 50.0, 5.0, 30.0, 11.0, 40.0, 0.0, 20.0, 15.0], capacity=False)
    assert (alone["personal_contact"] == "scheduled").sum() == 7 and (alone["due_in_days"][alone["action"] == "b"] == 2).all()
    # Equal values: the partner id decides, so two runs agree.
    tied = contacts(table, [20.0] * 5, capacity=True)
    assert tied["due_in_days"].tolist() == [0, 0, 1, 1, 2]


def test_a_personal_manager_needs_the_expected_revenue_not_the_risk(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        minimal_table(
            actions=ACTIONS.replace("channel: phone", "channel: manager"),
            personal=PERSONAL.replace("min_value_at_risk: {phone: 10}", "min_expected_revenue: {manager: 100}"),
        )
    )
    out = contacts(ActionTable.load(path), [0.5, 0.5, 80.0], capacity=False, expected=[500.0, 99.0, 99.0])
    assert out["personal_contact"].tolist() == ["scheduled", "below_minimum_value", "below_minimum_value"]


def test_the_default_table_never_calls_a_partner_below_the_minimum_nor_past_a_days_capacity() -> None:
    partners = add_bands_and_flags(random_partners(3000, seed=4), SCORING)
    rng = np.random.default_rng(4)
    columns = {
        **{c: partners[c].to_numpy() for c in partners.columns},
        "partner_id": np.array([f"p{i}" for i in range(len(partners))], dtype=object),
        "value_at_risk": rng.gamma(0.5, 20, len(partners)),
        "expected_revenue": rng.gamma(0.5, 300, len(partners)),
    }
    out = fit_personal_contacts(columns, action_columns(columns, DEFAULT, "en"), DEFAULT, "en", capacity=True)
    rules = DEFAULT.personal_contact
    personal = np.isin(out["channel"], rules.channels)
    assert personal.any() and (out["personal_contact"] == "below_minimum_value").any() and (out["personal_contact"] == "over_capacity").any()
    for channel, least in rules.min_value_at_risk.items():
        assert (columns["value_at_risk"][personal & (out["channel"] == channel)] >= least).all()
    for channel, least in rules.min_expected_revenue.items():
        assert (columns["expected_revenue"][personal & (out["channel"] == channel)] >= least).all()
    frame = pd.DataFrame({"owner": out["owner"], "day": out["due_in_days"]})[personal]
    assert frame.groupby(["owner", "day"]).size().max() <= max(rules.daily_capacity.values())
    assert (frame.groupby(["owner", "day"]).size().loc[list(rules.daily_capacity)] <= 20).all()
    fallback = out["personal_contact"] != "scheduled"
    fallback &= out["personal_contact"] != ""
    assert set(out["action"][fallback]) <= set(rules.automated.values())


@pytest.mark.parametrize(
    ("personal", "message"),
    [
        ("", r"action\(s\) \['b'\] take a person's time: add a personal_contact section"),
        (
            PERSONAL.replace("sleeper: a}", "sleeper: b}"),
            r"personal_contact.automated.sleeper: 'b' is not automated \(channel phone, owner retention_team\)",
        ),
        (PERSONAL.replace(", sleeper: a}", "}"), r"no automated action for segment\(s\) \['sleeper'\]"),
        (PERSONAL.replace("sleeper: a}", "sleeper: c}"), r"personal_contact.automated.sleeper: unknown action code 'c'"),
        (PERSONAL.replace("{retention_team: 2}", "{retention_team: 0}"), r"a daily capacity must be at least 1 contact"),
        (PERSONAL.replace("{phone: 10}", "{phone: -1}"), r"a minimum must be 0 or more"),
        (PERSONAL.replace("{phone: 10}", "{pigeon: 1}"), r"min_value_at_risk"),
    ],
    ids=[
        "missing section",
        "fallback not automated",
        "segment without fallback",
        "unknown fallback",
        "zero capacity",
        "negative minimum",
        "unknown channel",
    ],
)
def test_bad_personal_contact_sections_are_config_errors(tmp_path: Path, personal: str, message: str) -> None:
    assert_refused(tmp_path, minimal_table(personal=personal), message)
