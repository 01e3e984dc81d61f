"""Orchestration (Prefect) over the ``sensing`` library, and the ``sensing`` command."""
