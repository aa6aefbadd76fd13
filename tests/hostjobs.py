"""Host job types the tests register through CRONWELL_JOB_TYPES, as an embedding app would."""

import time


def stubborn(configuration, context):
    """Sleeps for configuration['seconds'], ignoring its cancel token."""
    time.sleep(configuration.get("seconds", 5))
    return {"slept": configuration.get("seconds", 5)}


def polite(configuration, context):
    """Sleeps, but stops as soon as its cancel token is set."""
    stopped = context.cancelled.wait(configuration.get("seconds", 5))
    return {"stopped_early": stopped}


def explode(configuration, context):
    """Always raises."""
    raise RuntimeError("boom from a host handler")
