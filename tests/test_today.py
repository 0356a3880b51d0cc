"""The contacts a person makes this week: which rows, in which order, with which dates and columns."""

from __future__ import annotations

import math

import pandas as pd

from serving.today import CONTACT_COLUMNS, CRM_COLUMNS, contacts_due, crm_tasks, owner_counts

AS_OF = pd.Timestamp("2026-07-01 06:00", tz="UTC")


def risk_list() -> pd.DataFrame:
    rows = [
        # partner, owner, due, value at risk, expected revenue, days since last activity
        ("p1", "retention_team", 0, 80.0, 400.0, 12.0),
        ("p2", "retention_team", 0, 120.0, 300.0, 3.0),
        ("p3", "retention_team", 1, 500.0, 0.0, math.nan),  # never active: no last activity date
        ("p4", "automation", 0, 900.0, 900.0, 1.0),  # an automated series is nobody's task
        ("p5", "partner_manager", 2, 0.0, 0.0, 40.0),  # worth nothing: not in the today view
        ("p6", "partner_manager", 6, 30.0, 90.0, 2.0),
        ("p7", "partner_manager", 7, 300.0, 600.0, 2.0),  # next week
        ("p8", "finance", 0, 5.0, 50.0, 9.0),
        ("p9", "partner_manager", 3, math.nan, 700.0, 5.0),  # no risk score, but what the partner brings earns the call
        ("p10", "partner_manager", 1, math.nan, math.nan, 5.0),  # no figure at all: worth nothing
    ]
    frame = pd.DataFrame(rows, columns=["partner_id", "owner", "due_in_days", "value_at_risk", "expected_revenue", "days_since_last_activity"])
    return frame.assign(
        segment="workhorse",
        action_title="Call",
        action_description="Say hello",
        channel="phone",
        reasons="silent for 12 days | revenue down 40%",
        deactivation_risk=0.5,
        risk_band="high",
        risk_trend="↑",
        previous_risk=0.3,
        risk_change=0.2,
        weeks_in_high_band=pd.array([0] * len(rows), dtype="Int64"),
        high_band_since=AS_OF,
    )


def test_contacts_are_a_persons_tasks_this_week_by_owner_day_and_value() -> None:
    contacts = contacts_due(risk_list(), AS_OF)
    assert list(contacts.columns) == CONTACT_COLUMNS
    assert contacts["partner_id"].tolist() == ["p8", "p9", "p6", "p2", "p1", "p3"]
    assert contacts["due_date"].tolist() == ["2026-07-01", "2026-07-04", "2026-07-07", "2026-07-01", "2026-07-01", "2026-07-02"]
    assert contacts["last_activity_date"].tolist() == ["2026-06-22", "2026-06-26", "2026-06-29", "2026-06-28", "2026-06-19", ""]
    counts = owner_counts(contacts).set_index("owner")
    assert counts.loc["retention_team"].tolist() == [2, 3, 700.0]
    assert counts.loc["partner_manager"].tolist() == [0, 2, 30.0]


def test_no_contact_is_worth_nothing() -> None:
    """A row with neither value at risk nor expected revenue above 0 is nobody's hour (today sheet, report, CRM)."""
    contacts = contacts_due(risk_list(), AS_OF)
    worth = contacts["value_at_risk"].fillna(0).gt(0) | contacts["expected_revenue"].fillna(0).gt(0)
    assert worth.all() and not {"p5", "p10"} & set(contacts["partner_id"])


def test_crm_layout_names_every_column_and_keeps_the_order() -> None:
    tasks = crm_tasks(contacts_due(risk_list(), AS_OF))
    assert list(tasks.columns) == list(CRM_COLUMNS.values())
    assert tasks.iloc[0].to_dict() == {
        "Partner ID": "p8",
        "Task owner": "finance",
        "Due date": "2026-07-01",
        "Task subject": "Call",
        "Task notes": "Say hello",
        "Reasons": "silent for 12 days | revenue down 40%",
        "Channel": "phone",
        "Value at risk": 5.0,
        "Deactivation risk": 0.5,
        "Segment": "workhorse",
        "Last activity date": "2026-06-22",
    }


def test_no_contacts_is_an_empty_table() -> None:
    frame = risk_list()
    assert contacts_due(frame[frame["owner"] == "automation"], AS_OF).empty
    assert owner_counts(contacts_due(frame[frame["owner"] == "automation"], AS_OF)).empty
