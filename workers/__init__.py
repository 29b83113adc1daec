"""RQ entry points: the worker, the scheduler (reconciler) and thin job functions."""
