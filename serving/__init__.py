"""BentoML scoring service and batch scorer (champion model + the same feature code).

Built by the serving issue; nothing here yet.
"""
