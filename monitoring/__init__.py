"""Monitoring of the scoring models: drift of features and scores, realized performance, retraining signal.

`drift` and `performance` are pure comparisons on frames; `verdict` turns them into keep / watch /
retrain; `store` reads risk lists and MLflow runs and writes reports; `checks` runs each check end to
end; `cli` is `partner-churn monitor`. Definitions and measured figures: docs/definitions.md, "Monitoring".
"""
