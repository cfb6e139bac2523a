"""Configuration as Prefect blocks (database, project, channels) and their resolution into the settings
model (``tasks/settings.py``)."""
