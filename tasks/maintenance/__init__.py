"""Maintenance: the daily clean-up of resolved alerts, old log files and backups beyond retention."""
