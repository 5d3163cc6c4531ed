"""Trains the small demand-forecast model that the harness's MLServer serves.

A linear model on three numeric features (lag_7, lag_28, promo), seeded, so every `up` serves
the same model and tests can assert its predictions: y = 0.6*lag_7 + 0.3*lag_28 + 5*promo + 2.
"""
import sys

import joblib
import numpy as np
from sklearn.linear_model import LinearRegression

rng = np.random.default_rng(7)
features = rng.uniform(0, 100, size=(500, 3))
features[:, 2] = rng.integers(0, 2, size=500)
target = 0.6 * features[:, 0] + 0.3 * features[:, 1] + 5.0 * features[:, 2] + 2.0
model = LinearRegression().fit(features, target)
joblib.dump(model, sys.argv[1])
