"""The retention team's morning: who each person contacts today and this week, what to say and why.

Pure: a scored risk list in, the contacts a person makes out (automated actions are not anyone's
task). The spreadsheet's first sheet, the report's first section and one CSV per owner for a CRM
import are all made from `contacts_due`.
"""

from __future__ import annotations

import pandas as pd

from partner_churn.domain import LAST_ACTIVITY

WEEK_DAYS = 7
"""'This week': contacts due within 7 days of the scoring (0 = today)."""
AUTOMATED_OWNER = "automation"

CONTACT_COLUMNS = [
    "owner",
    "due_date",
    "due_in_days",
    "partner_id",
    "segment",
    "action_title",
    "action_description",
    "channel",
    "reasons",
    "value_at_risk",
    "expected_revenue",
    "deactivation_risk",
    "risk_band",
    "risk_trend",
    "previous_risk",
    "risk_change",
    "weeks_in_high_band",
    "high_band_since",
    "last_activity_date",
]
"""A contact, in reading order: who, when, whom, what to do and say, why, what is at stake and how it moved
since the previous scoring, last seen."""

CRM_COLUMNS = {
    "partner_id": "Partner ID",
    "owner": "Task owner",
    "due_date": "Due date",
    "action_title": "Task subject",
    "action_description": "Task notes",
    "reasons": "Reasons",
    "channel": "Channel",
    "value_at_risk": "Value at risk",
    "deactivation_risk": "Deactivation risk",
    "segment": "Segment",
    "last_activity_date": "Last activity date",
}
"""The CRM import layout (one task per row, as HubSpot's and Salesforce's task imports take them): our
column -> its header. Dates are ISO (YYYY-MM-DD), money in the program's currency, risk 0..1."""


def contact_rows(scored: pd.DataFrame, *, days: int = WEEK_DAYS) -> pd.Series:
    """The rows of `contacts_due`: a person's action (not automation's), due within `days`, worth something."""
    worth = (scored["value_at_risk"].fillna(0) > 0) | (scored["expected_revenue"].fillna(0) > 0)
    return (scored["owner"] != AUTOMATED_OWNER) & (scored["due_in_days"].astype(int) < days) & worth


def contacts_due(scored: pd.DataFrame, as_of: pd.Timestamp, *, days: int = WEEK_DAYS) -> pd.DataFrame:
    """Every contact a person makes within `days` of `as_of`: actions not owned by automation, worth
    something (value at risk or expected revenue above 0: a partner with neither is nobody's hour), by
    owner, then due day, then value at risk (highest first)."""
    chosen = scored[contact_rows(scored, days=days)].copy()
    chosen["due_date"] = (as_of.normalize() + pd.to_timedelta(chosen["due_in_days"].astype(int), unit="D")).dt.strftime("%Y-%m-%d")
    last = as_of - pd.to_timedelta(chosen[LAST_ACTIVITY], unit="D")
    chosen["last_activity_date"] = last.dt.strftime("%Y-%m-%d").where(chosen[LAST_ACTIVITY].notna(), "")
    ordered = chosen.sort_values(["owner", "due_in_days", "value_at_risk", "partner_id"], ascending=[True, True, False, True], kind="stable")
    return ordered[CONTACT_COLUMNS].reset_index(drop=True)


def crm_tasks(contacts: pd.DataFrame) -> pd.DataFrame:
    """`contacts_due` rows in the CRM import layout (CRM_COLUMNS)."""
    return contacts[list(CRM_COLUMNS)].rename(columns=CRM_COLUMNS)


def owner_counts(contacts: pd.DataFrame) -> pd.DataFrame:
    """Per owner: contacts due today, due this week, and the value at risk they cover."""
    if contacts.empty:
        return pd.DataFrame(columns=["owner", "today", "this_week", "value_at_risk"])
    grouped = contacts.groupby("owner", sort=True)
    return pd.DataFrame(
        {
            "today": grouped["due_in_days"].apply(lambda d: int((d == 0).sum())),
            "this_week": grouped.size(),
            "value_at_risk": grouped["value_at_risk"].sum(),
        }
    ).reset_index()
