#!/usr/bin/env bash
# Two churncal binaries on the same jobs, every output compared byte for byte: the check a
# refactoring must pass ("behaviour does not change").
#
#   benches/identical.sh OLD_BINARY NEW_BINARY [SYNTH.parquet]
#
# Jobs: calibrate, report, tiers, cohorts --by industry,size_band, validate and score on the
# bundled sample; calibrate and score on the two real sets (../shared/data when present,
# else notebooks-data/real); calibrate --bootstrap 0 and score on SYNTH when given. Each
# binary writes into the same folder name (outputs may name their folder), stdout, stderr
# (with -q) and the exit status are kept, and the two trees are compared with diff -r.
set -uo pipefail
[ $# -ge 2 ] || { sed -n 2,11p "$0"; exit 2; }
cd "$(dirname "$0")/.."
old=$1 new=$2 synth=${3:-}
work=${IDENTICAL_WORK:-target/identical}
run_dir="$work/run"
telco=../shared/data/ibm-telco-churn/telco_customer_churn.csv
iran=../shared/data/iranian-churn/customer_churn.csv
[ -f "$telco" ] || telco=notebooks-data/real/telco_customer_churn.csv
[ -f "$iran" ] || iran=notebooks-data/real/iranian_churn.csv
real=notebooks-data/real
export SOURCE_DATE_EPOCH=1775001600
rm -rf "$work"
mkdir -p "$work"
for side in old new; do
  bin=$old
  [ "$side" = new ] && bin=$new
  rm -rf "$run_dir"
  mkdir -p "$run_dir"
  job() {
    local name=$1
    shift
    "$bin" -q "$@" >"$run_dir/$name.stdout" 2>"$run_dir/$name.stderr"
    echo $? >"$run_dir/$name.status"
  }
  job calibrate calibrate --out "$run_dir/calibrate"
  job report report --out "$run_dir/report"
  job tiers tiers --out "$run_dir/tiers"
  job cohorts cohorts --by industry,size_band --out "$run_dir/cohorts"
  job validate validate --candidate "$run_dir/calibrate/three-dimensions-calibrated.toml" \
    --incumbent three-dimensions --out "$run_dir/validate"
  job score score --out "$run_dir/score.csv"
  job telco-cal calibrate --data "$telco" --profile "$real/telco.toml" --id-col customerID \
    --outcome-col Churn --out "$run_dir/telco-cal"
  job telco-score score --data "$telco" --profile "$real/telco.toml" --id-col customerID \
    --outcome-col Churn --out "$run_dir/telco-score.csv"
  job iran-cal calibrate --data "$iran" --profile "$real/iranian.toml" --outcome-col Churn \
    --fit-transforms --out "$run_dir/iran-cal"
  job iran-score score --data "$iran" --profile "$real/iranian.toml" --outcome-col Churn \
    --out "$run_dir/iran-score.csv"
  if [ -n "$synth" ]; then
    job big-cal calibrate --data "$synth" --profile eight-pillars --bootstrap 0 --out "$run_dir/big-cal"
    job big-score score --data "$synth" --profile eight-pillars --out "$run_dir/big-score.csv"
  fi
  mv "$run_dir" "$work/$side"
done
if diff -r "$work/old" "$work/new"; then
  echo "outputs identical ($(ls "$work/new" | grep -c status) jobs)"
else
  echo "outputs differ"
  exit 1
fi
