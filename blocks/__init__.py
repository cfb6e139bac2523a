"""Configuration: the settings model (environment variables and CLI options) and Prefect blocks."""
