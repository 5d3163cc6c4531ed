"""The harness's Airflow DAG: a daily demand-forecast training pipeline with three tasks.

`validate` reads the artifact bucket given in the DAG run's conf (`artifact_url`,
`bucket`); with no conf it succeeds, so a plain trigger is a healthy run.
"""
from datetime import datetime

from airflow.sdk import dag, task


@dag(
    dag_id="demand_forecast_training",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["warden-test"],
)
def demand_forecast_training():
    @task
    def extract():
        return {"rows": 1000}

    @task
    def validate(summary, **context):
        conf = (context.get("dag_run").conf or {}) if context.get("dag_run") else {}
        if conf.get("fail_with"):
            raise RuntimeError(conf["fail_with"])
        return summary

    @task
    def train(summary):
        return {"model": "demand-forecast", "rows": summary["rows"]}

    train(validate(extract()))


demand_forecast_training()
