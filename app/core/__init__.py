"""The rules the engine and the services share: schedules (parsing, the cron trigger,
descriptions) and what a run's final status brings with it (``finals``). Nothing here
imports the scheduler or the services."""
