#!/usr/bin/env bash
# Segment profiles, revenue weighting and revenue at risk, measured:
#
# 1. `calibrate --by size_band` in simulated worlds where the size bands churn by the same
#    weights (SEEDS_SAME seeds: how often the likelihood-ratio test rejects at 5 %, how often
#    segmenting "pays") and by different ones (SEEDS_DIFFER seeds: the test's p-value, the
#    out-of-fold log-loss and AUC of pooled, recalibrated and segmented, and how many true
#    weights fall inside the segments' intervals);
# 2. the pooled against segmented table on IBM Telco by Contract and on the bundled sample
#    by size band;
# 3. revenue-weighted against unweighted calibration in the world where Mid-Market and
#    Enterprise (most of the revenue) churn by other weights;
# 4. revenue at risk observed against expected on held-out quarters of the bundled sample
#    and of a 1M-row synth file, each calibrated on the quarters before.
#
#   benches/segments.sh [BINARY]   (default: the release build in $CARGO_TARGET_DIR)
#   SEEDS_SAME=100 SEEDS_DIFFER=20 by default; DuckDB from ~/.cache/churncal-venv cuts the
#   Parquet files.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/churncal}")
py=${CHURNCAL_PYTHON:-$HOME/.cache/churncal-venv/bin/python}
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "## 1a. One truth for all segments: the test's false-positive rate"
echo
echo "synth --accounts 8000 --churned 800, calibrate --profile <truth> --by size_band -B 0"
echo
echo "| seed | χ² | df | p | log-loss recalibrated | log-loss segmented |"
echo "|---:|---:|---:|---:|---:|---:|"
for s in $(seq 1 "${SEEDS_SAME:-100}"); do
  "$bin" synth -q --accounts 8000 --churned 800 --out same.parquet --truth same.toml --seed "$s" --force
  rm -rf o
  "$bin" calibrate -q --profile same.toml --data same.parquet --by size_band -B 0 --out o
  python3 - "$s" <<'PY'
import json, sys
j = json.load(open("o/summary.json"))["segments"]
t, o = j["test"], j["overall"]
print(f"| {sys.argv[1]} | {t['statistic']:.2f} | {t['df']} | {t['p_value']:.4f} | {o['recalibrated']['log_loss']:.6f} | {o['segmented']['log_loss']:.6f} |")
PY
done | tee same.md
python3 - <<'PY'
rows = [l.split("|")[1:-1] for l in open("same.md")]
p = [float(r[3]) for r in rows]
gain = [float(r[4]) - float(r[5]) for r in rows]
n = len(p)
print(f"\n{n} seeds: rejected at 5 %: {sum(x < 0.05 for x in p)}, at 10 %: {sum(x < 0.1 for x in p)}, at 1 %: {sum(x < 0.01 for x in p)}; "
      f"mean p {sum(p) / n:.3f}; segmented better out of fold: {sum(g > 0 for g in gain)}; "
      f"'segmenting pays' (p < 0.05 and better out of fold): {sum(x < 0.05 and g > 0 for x, g in zip(p, gain))}\n")
PY

echo "## 1b. Mid-Market and Enterprise churn by other weights"
echo
echo "synth --accounts 20000 --churned 1500 --weights-by-size, calibrate --profile <SMB truth> --by size_band -B 100"
echo
echo "| seed | χ² | df | p | log-loss pooled | recalibrated | segmented | AUC pooled | segmented | true weights inside the intervals |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in $(seq 1 "${SEEDS_DIFFER:-20}"); do
  "$bin" synth -q --accounts 20000 --churned 1500 --weights-by-size --out differ.parquet --truth differ.toml --seed "$s" --force
  rm -rf o
  "$bin" calibrate -q --profile differ.toml --data differ.parquet --by size_band -B 100 --out o
  python3 - "$s" <<'PY'
import json, sys, tomllib
j = json.load(open("o/summary.json"))["segments"]
smb = [m["weight"] for m in tomllib.load(open("differ.toml", "rb"))["metrics"]]
up = [m["weight"] for m in tomllib.load(open("differ-upmarket.toml", "rb"))["metrics"]]
inside = total = 0
for g in j["segments"]:
    if not g["own"]:
        continue
    truth = smb if g["label"] == "SMB" else up
    for m, t in zip(g["own"]["metrics"], truth):
        total += 1
        inside += m["weight_ci"][0] <= t <= m["weight_ci"][1]
t, o = j["test"], j["overall"]
print(f"| {sys.argv[1]} | {t['statistic']:.1f} | {t['df']} | {t['p_value']:.1e} | {o['pooled']['log_loss']:.5f} | {o['recalibrated']['log_loss']:.5f} | "
      f"{o['segmented']['log_loss']:.5f} | {o['pooled']['auc']:.4f} | {o['segmented']['auc']:.4f} | {inside} / {total} |")
PY
done | tee differ.md
python3 - <<'PY'
rows = [l.split("|")[1:-1] for l in open("differ.md")]
n = len(rows)
ins = sum(int(r[9].split("/")[0]) for r in rows); tot = sum(int(r[9].split("/")[1]) for r in rows)
print(f"\n{n} seeds: p < 0.05 in {sum(float(r[3]) < 0.05 for r in rows)}; segmented log-loss below pooled in {sum(float(r[6]) < float(r[4]) for r in rows)} "
      f"and below recalibrated in {sum(float(r[6]) < float(r[5]) for r in rows)}; segmented AUC above pooled in {sum(float(r[8]) > float(r[7]) for r in rows)}; "
      f"true weights inside the segments' 95 % intervals: {ins} of {tot} ({100 * ins / tot:.1f} %)\n")
PY

table() {
  python3 - "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["segments"]
print("| segment | snapshots | churn events | profile | log-loss / AUC pooled | recalibrated | segmented |")
print("|---|---:|---:|---|---|---|---|")
def q(x): return f"{x['log_loss']:.4f} / {x['auc']:.3f}"
for g in j["segments"]:
    prof = f"own, λ = {g['own']['lambda']}" if g["own"] else f"pooled ({g['kept_pooled']})"
    c = g["comparison"]
    print(f"| {g['label']} | {g['rows']} | {g['events']} | {prof} | {q(c['pooled'])} | {q(c['recalibrated'])} | {q(c['segmented'])} |")
o = j["overall"]
print(f"| all | {o['rows']} | {o['events']} | | {q(o['pooled'])} | {q(o['recalibrated'])} | {q(o['segmented'])} |")
t = j["test"]
print(f"\n{j['verdict']}\n" if t else f"\n{j['verdict']} (no test: fewer than two segments fitted)\n")
PY
}

echo "## 2. Pooled against segmented on real data"
echo
echo "### IBM Telco by Contract"
echo
"$bin" calibrate -q --data "$root/notebooks-data/real/telco_customer_churn.csv" --profile "$root/notebooks-data/real/telco.toml" \
  --id-col customerID --outcome-col Churn --by Contract --out telco
table telco/summary.json
for epv in 10 5; do
  echo "### The bundled sample by size_band, --min-segment-epv $epv"
  echo
  rm -rf sample
  "$bin" calibrate -q --by size_band --min-segment-epv "$epv" --out sample
  table sample/summary.json
done

echo "## 3. Revenue-weighted against unweighted (synth --weights-by-size, seed 1)"
echo
"$bin" synth -q --accounts 20000 --churned 1500 --weights-by-size --out differ.parquet --truth differ.toml --seed 1 --force
"$bin" calibrate -q --profile differ.toml --data differ.parquet --weight-col arr --out weighted
python3 - <<'PY'
import json, tomllib
c = json.load(open("weighted/summary.json"))["calibration"]
r = c["revenue_comparison"]
smb = [m["weight"] for m in tomllib.load(open("differ.toml", "rb"))["metrics"]]
up = [m["weight"] for m in tomllib.load(open("differ-upmarket.toml", "rb"))["metrics"]]
print("| fit | λ | per snapshot: AUC / log-loss | per unit of revenue: AUC / log-loss |\n|---|---|---|---|")
for name, k in [("every snapshot once", "by_snapshot"), ("revenue-weighted", "by_revenue")]:
    f = r[k]
    print(f"| {name} | {f['lambda']} | {f['by_snapshot']['auc']:.4f} / {f['by_snapshot']['log_loss']:.5f} | {f['by_revenue']['auc']:.4f} / {f['by_revenue']['log_loss']:.5f} |")
print("\n| metric | SMB truth | Mid-Market and Enterprise truth | unweighted fit | revenue-weighted fit |\n|---|---:|---:|---:|---:|")
for m, a, b, s, u in zip(c["metrics"], r["by_snapshot"]["weights"], r["by_revenue"]["weights"], smb, up):
    print(f"| {m['name']} | {s:.0f} | {u:.0f} | {a:.1f} | {b:.1f} |")
print("\n| tier | churn rate (snapshots) | revenue churn rate | 95 % interval |\n|---|---:|---:|---|")
for t in c["tiers"]:
    v = t["revenue"]
    print(f"| {t['tier']} | {100 * t['rate']:.2f} % | {100 * v['rate']:.2f} % | {100 * v['rate_ci'][0]:.2f} – {100 * v['rate_ci'][1]:.2f} % |")
print()
PY

risk() {
  # $1 data, $2 profile, $3 held-out date, $4 label
  "$py" - "$1" "$3" <<'PY'
import duckdb, sys
src, cut = sys.argv[1], sys.argv[2]
reader = f"read_csv_auto('{src}')" if src.endswith(".csv") else f"'{src}'"
duckdb.sql(f"COPY (SELECT * FROM {reader} WHERE snapshot_date < DATE '{cut}') TO 'hist.parquet' (FORMAT parquet)")
PY
  rm -rf cal r
  "$bin" calibrate -q --profile "$2" --data hist.parquet -B 0 --out cal
  "$bin" risk -q --profile cal/*-calibrated.toml --data "$1" --at "$3" --by size_band --out r
  python3 - "$4" "$3" <<'PY'
import json, sys
r = json.load(open("r/risk.json"))
for g in r["groups"]:
    if g["by"] in ("all", "tier"):
        print(f"| {sys.argv[1]} | {sys.argv[2]} | {g['label']} | {g['accounts']} | {g['expected']:,.0f} | {g['predicted'][0]:,.0f} – {g['predicted'][1]:,.0f} | {g['observed']:,.0f} | {g['expected_accounts']:.1f} | {g['observed_accounts']} | {'yes' if g['predicted'][0] <= g['observed'] <= g['predicted'][1] else 'NO'} |")
inside = sum(g["predicted"][0] <= g["observed"] <= g["predicted"][1] for g in r["groups"])
print(f"| {sys.argv[1]} | {sys.argv[2]} | all {len(r['groups'])} groups (tiers, size bands) | | | | | | | {inside} inside |")
PY
}

echo "## 4. Revenue at risk: observed against expected on held-out quarters"
echo
echo "Each quarter's profile calibrated (-B 0) on the quarters before it only; risk -B 200 at the quarter."
echo
echo "| data | quarter | group | accounts | expected churned ARR | 95 % prediction interval | observed | expected churned accounts | observed | inside |"
echo "|---|---|---|---:|---:|---|---:|---:|---:|---|"
"$bin" synth -q --out sample.csv --truth sample-truth.toml --force
cmp -s sample.csv "$root/notebooks-data/sample_snapshots.csv" || echo "(note: the generated sample differs from the bundled one)"
for q in 2025-09-30 2025-12-31; do
  risk sample.csv three-dimensions "$q" sample
done
"$bin" synth -q --accounts 128000 --churned 8320 --out synth1m.parquet --truth synth1m.toml --force
for q in 2025-09-30 2025-12-31; do
  risk "$work/synth1m.parquet" eight-pillars "$q" synth-1m
done
