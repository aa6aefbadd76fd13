"""The scheduler side: the fire path and what keeps it fed.

The fire path, top to bottom: ``passes`` (APScheduler's pass, through the one override in
``aps``) -> ``intake`` (the pass's fires as rows, in its transaction) -> ``runner`` (the
ready queue) -> ``workers`` and ``watchdog`` -> ``recorder``; the types they hand each
other are in ``stages``. Around it: ``store`` (APScheduler's job store on our engine),
``sync`` (job changes into the store), ``maintenance`` and ``leader``, all run by
``manager``, whose public methods are the services' door. Schedules: ``schedules``,
``cron``, ``describe``.
"""
