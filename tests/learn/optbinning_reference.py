"""Known answers for churncal's optimal binning, from optbinning.

Runs optbinning's OptimalBinning (quantile pre-binning, CP solver) on every numeric
column of the two public data sets in notebooks-data/real, under each event-rate trend
and two sets of constraints, and writes the split points and per-bin event and
non-event counts to tests/learn/optbinning.json, which tests/binning.rs compares with
churncal::learn::binning.

    python -m venv ~/.cache/churncal-optbinning
    ~/.cache/churncal-optbinning/bin/pip install optbinning==1.0.0 pandas
    ~/.cache/churncal-optbinning/bin/python tests/learn/optbinning_reference.py
"""

import json
import pathlib

import warnings

import numpy as np
import optbinning
import pandas as pd
from optbinning import OptimalBinning

ROOT = pathlib.Path(__file__).resolve().parents[2]
SETS = [
    ("notebooks-data/real/telco_customer_churn.csv", "Churn", "Yes",
     ["tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen"]),
    ("notebooks-data/real/iranian_churn.csv", "Churn", 1,
     ["Call  Failure", "Subscription  Length", "Charge  Amount", "Seconds of Use",
      "Frequency of use", "Frequency of SMS", "Distinct Called Numbers", "Age",
      "Customer Value"]),
]
CONSTRAINTS = [
    {"max_n_bins": 5, "min_bin_size": 0.05, "min_bin_n_event": 5},
    {"max_n_bins": 3, "min_bin_size": 0.10, "min_bin_n_event": 20},
]
TRENDS = ["ascending", "descending", "peak", "valley"]


def main():
    warnings.filterwarnings("ignore", category=UserWarning)
    cases = []
    for path, outcome, positive, columns in SETS:
        df = pd.read_csv(ROOT / path)
        y = (df[outcome] == positive).astype(int).to_numpy()
        for col in columns:
            x = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
            for c in CONSTRAINTS:
                for trend in TRENDS:
                    ob = OptimalBinning(
                        name=col, dtype="numerical", prebinning_method="quantile",
                        max_n_prebins=20, monotonic_trend=trend, solver="cp", **c)
                    ob.fit(x, y)
                    table = ob.binning_table.build()
                    nb = len(ob.splits) + 1
                    cases.append({
                        "file": path, "outcome": outcome, "positive": str(positive),
                        "column": col, "trend": trend, **c,
                        "status": ob.status,
                        "rows": int(len(x)),
                        "splits": [float(s) for s in ob.splits],
                        "events": [float(v) for v in table["Event"][:nb]],
                        "nonevents": [float(v) for v in table["Non-event"][:nb]],
                    })
    out = {
        "optbinning": optbinning.__version__,
        "numpy": np.__version__,
        "cases": cases,
    }
    dest = ROOT / "tests/learn/optbinning.json"
    dest.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(cases)} cases written to {dest}")


if __name__ == "__main__":
    main()
