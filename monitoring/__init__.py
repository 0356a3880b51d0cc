"""Monitoring of the scoring models: drift of features and scores, realized performance, retraining signal.

`drift` and `performance` are pure comparisons on frames; `verdict` turns them into keep / watch /
retrain; `summary` renders a drift check as the short page people read (words in `wording`, en and ru);
`store` reads risk lists and MLflow runs and writes reports; `checks` runs each check end to end; `cli`
is `partner-churn monitor`. Definitions and measured figures: docs/definitions.md, "Monitoring".
"""
