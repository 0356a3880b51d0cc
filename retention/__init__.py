"""Retention: what to do about each scored partner and why, in words (actions, reasons, their wording)."""
