"""Notifications: telling people about runs (failures, recoveries, missed fires).

:mod:`.urls` checks and masks the URLs a job or the service names, :mod:`.messages`
says what a notification holds, :mod:`.delivery` sends one (http(s) through the job
types' HTTP client, everything else through apprise), and :mod:`.sender` is the leader's
background thread that empties the outbox. The outbox rows themselves are written with
the outcome they are about, by :mod:`app.core.finals`.
"""
