"""The cron resource."""
