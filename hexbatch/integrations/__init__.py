"""Run hexbatch from orchestrators: each integration is a module of its own, installed with
its extra (``hexbatch[airflow]``, ``hexbatch[dagster]``), so the core install never imports an
orchestrator."""
