"""Evidently drift of features and scores, realized performance, retraining signal.

Built by the monitoring issue; nothing here yet.
"""
