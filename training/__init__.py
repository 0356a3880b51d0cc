"""Rolling-origin datasets, LightGBM risk and potential models, calibration, backtests, MLflow registry.

Built by the training issue; nothing here yet.
"""
