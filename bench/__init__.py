"""Benchmarks: Cronwell against bare APScheduler and Flask-APScheduler, in one run."""
