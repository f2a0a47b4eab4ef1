"""Run the example DAG once with ``dag.test()`` in a fresh process (Airflow reads its
configuration at import): ``python airflow_runner.py DAG_FILE LOGICAL_DATE OVERRIDES_JSON``.

Overrides set attributes of the DAG's task (e.g. no retry delay, fail_fast) before the run.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime, timedelta


def main() -> None:
    dag_file, logical_date, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    spec = importlib.util.spec_from_file_location("example_dag", dag_file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    for task in dag.tasks:
        for name, value in overrides.items():
            setattr(task, name, timedelta(seconds=value) if name == "retry_delay" else value)
    dag.test(logical_date=datetime.fromisoformat(logical_date))


if __name__ == "__main__":
    main()
