"""Orchestrator integrations, each behind its own extra (``hexbatch[airflow]``)."""
