"""Scoring: the daily batch (`batch.py`, `outputs.py`, `report.py`) and the BentoML service (`service.py`,
with its request models in `api.py`, the door in `guard.py`, model loading in `models.py` and the
per-request scoring in `online.py`), both on the same features, models, segments, actions and reasons."""
