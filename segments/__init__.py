"""Segment assignment (Star / Workhorse / Newbie / Sleeper) and, later, retention actions."""
