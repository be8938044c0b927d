#!/usr/bin/env bash
# Scoring where the data lives, timed: `churncal score` and `churncal tiers` on a Parquet
# file beside the SQL of `churncal sql score` / `sql tiers` on DuckDB and Spark (local
# mode, 2 cores), through tests/engines/run.py. The engines' times are the query alone
# (the table is loaded first: DuckDB reads the file into a typed table, Spark reads its
# Parquet copy); the score table goes to Parquet everywhere.
#
# Usage: benches/engines.sh DATA.parquet PROFILE [RUNS]   (after `cargo build --release`
# and .ci/engines); JOBS="score" and ENGINES="spark" narrow the engine runs.
set -euo pipefail
data=$(realpath "$1"); profile=$(realpath "$2"); runs=${3:-3}
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-$HOME/.cache/churncal-target}/release/churncal"
py="${CHURNCAL_PYTHON:-$HOME/.cache/churncal-venv/bin/python}"
work=$(mktemp -d /tmp/churncal-engines-XXXX)
trap 'rm -rf "$work"' EXIT
for r in $(seq "$runs"); do
  /usr/bin/time -f "churncal score: %e s, peak %M KB" "$bin" score -q --data "$data" --profile "$profile" --out "$work/scores.parquet"
  /usr/bin/time -f "churncal tiers: %e s, peak %M KB" "$bin" tiers -q --data "$data" --profile "$profile" --unit snapshot --out "$work/tiers" --force
done
types=$("$py" - "$profile" <<'PY'
import json, sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))
t = {m["column"]: ("text" if m["transform"]["kind"] in ("categories", "boolean") else "double") for m in p["metrics"]}
print(json.dumps(t))
PY
)
jobs=""
for job in ${JOBS:-score tiers}; do
  sqls=""; outs=""
  for e in ${ENGINES:-duckdb spark}; do
    extra=""; [ "$job" = tiers ] && extra="--unit snapshot --arr-col arr"
    "$bin" sql $job --dialect $e --table snapshots --profile "$profile" $extra > "$work/$job.$e.sql"
    sqls="$sqls\"$e\": \"$work/$job.$e.sql\","
    ext=csv; [ "$job" = score ] && ext=parquet
    outs="$outs\"$e\": \"$work/$job.$e.$ext\","
  done
  sink=csv; [ "$job" = score ] && sink=parquet
  for r in $(seq "$runs"); do
    jobs="$jobs{\"name\": \"$job\", \"sink\": \"$sink\", \"sql\": {${sqls%,}}, \"out\": {${outs%,}}},"
  done
done
cat > "$work/m.json" <<JSON
{"work": "$work", "engines": ["duckdb", "spark"], "postgres_bin": null, "timings": "$work/t.json",
 "cases": [{"name": "bench", "data": "$data", "table": "snapshots", "types": $types, "jobs": [${jobs%,}]}]}
JSON
CHURNCAL_SPARK_MEMORY=${CHURNCAL_SPARK_MEMORY:-8g} "$py" tests/engines/run.py "$work/m.json"
"$py" - "$work/t.json" <<'PY'
import json, sys
for t in json.load(open(sys.argv[1])):
    print(f"{t['engine']:>8} {t['job']:>6}: {t['seconds']:.2f} s (table load {t['load_seconds']:.1f} s)")
PY
