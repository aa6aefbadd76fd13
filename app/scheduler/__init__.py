"""APScheduler wiring: triggers, the dispatch function, intake, runner, leader, manager."""
