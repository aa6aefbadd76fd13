"""The engine: who leads, what is due, who runs it, and what it came to.

The fire path, top to bottom: ``passes`` (the leader's pass, run by ``aps``, which keeps
APScheduler paused as the store's keeper) -> ``intake`` (the pass's fires as rows, in its
transaction, fenced by ``leader``) -> ``runner`` (each worker's one loop: ``due`` runs,
the claim in ``claims``, ``workers`` threads, leases) -> ``recorder``; the types they hand
each other are in ``stages`` and the runner's ``inbox``. Around it: ``store``
(APScheduler's job store on our engine), ``sync`` (job changes into the store),
``maintenance`` (lost runs, history), ``wakeups`` (LISTEN/NOTIFY), all run by
``manager``, whose public methods are the services' door. Schedules and what a final row
brings live in :mod:`app.core`.
"""
