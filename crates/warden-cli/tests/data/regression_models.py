"""Registers two versions of `demand-forecast` in an MLflow server for the model-regression
tests: version 1 is trained on prices in dollars, as serving sends them; version 2 on prices
in cents (a training/serving skew), so served with dollars it predicts badly. Both log the
training run's validation WAPE. The `champion` alias ends on version 2.

usage: python regression_models.py TRACKING_URI TRAINING_DATA_DIR
Writes training-v1.csv and training-v2.csv (the features each version was trained on, by key)
to TRAINING_DATA_DIR and prints {"versions": ["1", "2"]}.
"""

import json
import os
import sys

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

FEATURES = ["price", "promo", "day_of_week"]


def demand(frame):
    return 80.0 - 4.0 * frame["price"] + 12.0 * frame["promo"] + 2.0 * frame["day_of_week"]


def history(rng, rows):
    stores = rng.integers(1, 21, rows)
    days = rng.integers(0, 120, rows)
    frame = pd.DataFrame(
        {
            "store_id": stores,
            "date": (pd.Timestamp("2026-07-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
            "price": rng.uniform(2.0, 12.0, rows).round(2),
            "promo": rng.integers(0, 2, rows).astype(float),
            "day_of_week": (days % 7).astype(float),
        }
    ).drop_duplicates(["store_id", "date"])
    frame["units"] = demand(frame) + rng.normal(0.0, 2.0, len(frame))
    return frame


def main():
    tracking_uri, out_dir = sys.argv[1], sys.argv[2]
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("demand-forecast")
    rng = np.random.default_rng(7)
    data = history(rng, 3000)
    versions = []
    for version, price_scale in ((1, 1.0), (2, 100.0)):
        train = data.copy()
        train["price"] = train["price"] * price_scale
        train[["store_id", "date"] + FEATURES].to_csv(
            os.path.join(out_dir, f"training-v{version}.csv"), index=False
        )
        x = train[FEATURES]
        model = LinearRegression().fit(x, train["units"])
        fitted = model.predict(x)
        wape = float(np.abs(fitted - train["units"]).sum() / np.abs(train["units"]).sum())
        with mlflow.start_run(run_name=f"train-v{version}"):
            mlflow.log_metric("val_wape", wape)
            mlflow.log_param("price_unit", "cents" if price_scale > 1 else "dollars")
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(x, fitted),
                registered_model_name="demand-forecast",
            )
        versions.append(str(info.registered_model_version))
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("demand-forecast", "champion", versions[-1])
    print(json.dumps({"versions": versions}))


if __name__ == "__main__":
    main()
