"""Rolling-origin datasets, LightGBM risk and potential models, calibration, backtests, MLflow registry."""
