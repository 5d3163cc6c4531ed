#!/usr/bin/env python3
"""Generates crates/warden-stats/tests/data/scipy_reference.json: samples and the values SciPy
computes on them, so warden-stats' tests check its statistics without needing Python.

Run: python3 -m venv /tmp/scipy-venv && /tmp/scipy-venv/bin/pip install scipy numpy
     /tmp/scipy-venv/bin/python scripts/scipy_reference.py
"""
import json
import pathlib

import numpy as np
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

rng = np.random.default_rng(20261125)
OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/warden-stats/tests/data/scipy_reference.json"


def r(values):
    return [float(v) for v in values]


def psi(reference, current, bins=10):
    """The PSI definition Warden documents: edges at reference[k*n//bins], empty share 1e-4."""
    reference = np.sort(reference)
    current = np.sort(current)
    edges = np.unique([reference[min(k * len(reference) // bins, len(reference) - 1)] for k in range(1, bins)])
    def shares(sample):
        upto = np.searchsorted(sample, edges, side="left")
        counts = np.diff(np.concatenate([[0], upto, [len(sample)]]))
        return counts / len(sample)
    rs, cs = np.maximum(shares(reference), 1e-4), np.maximum(shares(current), 1e-4)
    return float(np.sum((cs - rs) * np.log(cs / rs)))


numeric_cases = []
for name, a, b in [
    ("normal_shift_500_800", rng.normal(0, 1, 500), rng.normal(0.3, 1, 800)),
    ("normal_same_1500_1200", rng.normal(0, 1, 1500), rng.normal(0, 1, 1200)),
    ("lognormal_sigma_2000_3000", rng.lognormal(0, 0.8, 2000), rng.lognormal(0, 1.0, 3000)),
    ("integer_ties_1000_1000", rng.integers(0, 10, 1000).astype(float), rng.integers(0, 11, 1000).astype(float)),
    ("small_shift_5000_4000", rng.normal(0, 1, 5000), rng.normal(0.05, 1, 4000)),
]:
    ks = stats.ks_2samp(a, b, method="asymp")
    numeric_cases.append({
        "name": name,
        "a": r(np.round(a, 6)),
        "b": r(np.round(b, 6)),
    })
    a6, b6 = np.round(a, 6), np.round(b, 6)
    ks = stats.ks_2samp(a6, b6, method="asymp")
    numeric_cases[-1].update({
        "ks_statistic": float(ks.statistic),
        "ks_p_asymp": float(ks.pvalue),
        "ks_p_exact": float(stats.ks_2samp(a6, b6, method="exact").pvalue),
        "wasserstein": float(stats.wasserstein_distance(a6, b6)),
        "psi": psi(a6, b6),
    })

categorical_cases = []
for name, ref, cur in [
    ("share_move_3_levels", [5700, 2300, 2000], [6400, 1926, 1674]),
    ("same_shares_7_levels", [800, 1200, 1500, 2500, 1000, 2000, 1000], [81, 119, 152, 248, 99, 201, 100]),
    ("new_category", [500, 300, 200, 0], [450, 280, 190, 80]),
    ("small_counts", [12, 30, 8], [10, 25, 15]),
]:
    table = np.array([ref, cur], dtype=float)
    nonzero = table.sum(axis=0) > 0
    chi2, p, dof, _ = stats.chi2_contingency(table[:, nonzero], correction=False)
    categorical_cases.append({
        "name": name, "reference": r(ref), "current": r(cur),
        "chi2": float(chi2), "p_value": float(p), "dof": float(dof),
        "js_distance": float(jensenshannon(np.array(ref, float), np.array(cur, float))),
    })

p_values = r(rng.uniform(0, 0.2, 30)) + [1e-12, 0.5, 0.049]
special = {
    "chi2_sf": [{"x": x, "df": df, "sf": float(stats.chi2.sf(x, df))}
                for x, df in [(0.5, 1), (3.0, 2), (25.0, 10), (150.0, 99), (400.0, 199), (80.0, 3), (1e-3, 4)]],
    "kstwobign_sf": [{"x": x, "sf": float(stats.kstwobign.sf(x))} for x in [0.3, 0.6, 0.9, 1.0, 1.2, 1.5, 2.5, 5.0]],
    "bh": {"p": p_values, "adjusted": r(stats.false_discovery_control(p_values, method="bh"))},
}

OUT.write_text(json.dumps({
    "generated_by": "scripts/scipy_reference.py",
    "scipy": scipy.__version__,
    "numpy": np.__version__,
    "numeric": numeric_cases,
    "categorical": categorical_cases,
    "special": special,
}, indent=1) + "\n")
print(f"wrote {OUT}")
