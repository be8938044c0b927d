#!/usr/bin/env bash
# Out-of-fold AUC and log-loss of the hand-written transforms, the learned ones and
# logistic regression (linear and binned) on the two public data sets, with the defaults
# of --learn-transforms and with a setting tuned for them.
#
#   benches/learn.sh [BINARY]      (default: the release build in $CARGO_TARGET_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/release/churncal}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
telco=(--data notebooks-data/real/telco_customer_churn.csv --profile notebooks-data/real/telco.toml --id-col customerID --outcome-col Churn)
iranian=(--data notebooks-data/real/iranian_churn.csv --profile notebooks-data/real/iranian.toml --outcome-col Churn)
settings=(
  ""
  "--shape auto"
  "--shape auto --max-bins 8 --min-bin-share 0.03"
  "--shape auto --max-bins 8 --min-bin-share 0.03 --max-pvalue 1"
  "--bin-points woe"
  "--bin-form steps"
)
echo "| data | --learn-transforms settings | hand-written, calibrated | learned, calibrated | LR linear | LR 10 bins | learned bins per metric (max) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for set in telco iranian; do
  declare -n args=$set
  for s in "${settings[@]}"; do
    rm -rf "$out/r"
    # shellcheck disable=SC2086
    "$bin" calibrate -q "${args[@]}" --learn-transforms $s --out "$out/r" 2>/dev/null
    python3 - "$out/r/summary.json" "$set" "${s:-(defaults)}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["learned"]
m = {x["model"]: x for x in d["comparison"]["models"]}
f = lambda k: "{:.4f} / {:.4f}".format(m[k]["auc"], m[k]["log_loss"])
bins = max((len(x["bins"]) for x in d["metrics"] if x["kind"] != "kept"), default=0)
print(f"| {sys.argv[2]} | `{sys.argv[3]}` | {f('hand-written transforms, calibrated')} | "
      f"{f('learned transforms, calibrated')} | {f('logistic regression, linear')} | "
      f"{f('logistic regression, 10 bins per metric')} | {bins} |")
PY
  done
done
