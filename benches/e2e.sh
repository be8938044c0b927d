#!/usr/bin/env bash
# End-to-end timings: churncal against the same jobs in the Python stack, side by side.
#
#   benches/e2e.sh                 # 150k, 1M and 10M rows (about 2 h, most of it Python at 10M)
#   benches/e2e.sh 150k 1m         # chosen sizes
#
# Jobs under a minute run three times (the median time, the highest peak memory), longer
# ones once.
#
# Generates synth data (CSV and Parquet) per size, builds churncal (release), makes a virtual
# environment with benches/python/requirements.txt, then times each job on both sides with
# /usr/bin/time -v (wall time, peak RSS) and writes benches/results/e2e-<sizes>.md.
# Jobs (the same work on both sides; see benches/python/churn_jobs.py):
#   score      score + group scores + tier + 3 reason codes, CSV out          (CSV and Parquet in)
#   tiers      churn per tier per renewal decision with Wilson intervals      (CSV and Parquet in)
#   calibrate  5-fold grouped CV over 15 λ, final fit, holdout, no bootstrap  (Parquet in)
#   calibrate1 one λ (1e-3), 5-fold grouped CV, final fit: against the lean peer (#29)
#   validate   calibrated vs prior, out-of-time, DeLong, 200 paired bootstrap (Parquet in)
# Environment: E2E_WORK (data and outputs, default target/e2e), E2E_VENV, E2E_PYTHON (use this
# interpreter instead of making a venv), E2E_JOBS (a space-separated subset of the job specs,
# e.g. "calibrate:parquet calibrate1:parquet"), E2E_PY_TIMEOUT (seconds per Python job, default 7200:
# a job over it is reported as "> timeout").
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(150k 1m 10m)
work=${E2E_WORK:-target/e2e}
py_timeout=${E2E_PY_TIMEOUT:-7200}
mkdir -p "$work" benches/results

[ "${E2E_BUILD:-1}" = 0 ] || cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/churncal"
if [ -n "${E2E_PYTHON:-}" ]; then
  py=$E2E_PYTHON
else
  venv=${E2E_VENV:-$work/venv}
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r benches/python/requirements.txt
  fi
  py=$venv/bin/python
fi
jobs_py=benches/python/churn_jobs.py
prior=src/profile/presets/eight-pillars.toml

# run LABEL TIMEOUT OK_STATUSES CMD... → prints "seconds peak_mb" (or "timeout -" / "failed -").
# A job that takes under $E2E_REPEAT_UNDER seconds (default 60) runs $E2E_RUNS times in all
# (default 3) and gives the median time and the highest peak: one run of a sub-second job
# is at the mercy of the machine's noise. churncal's exit status 1 is a verdict (validate's
# gate failed), not a failure.
run() {
  local label=$1 limit=$2 ok=$3
  shift 3
  local t="$work/time-$label.txt" times=() peaks=() i status s mb
  for ((i = 1; i <= ${E2E_RUNS:-3}; i++)); do
    status=0
    timeout "$limit" /usr/bin/time -v -o "$t" "$@" >"$work/log-$label.txt" 2>&1 || status=$?
    if [ $status -eq 124 ]; then
      echo "timeout -"
      return
    elif [[ " $ok " != *" $status "* ]]; then
      echo "$label failed (exit $status):" >&2
      tail -5 "$work/log-$label.txt" >&2
      echo "failed -"
      return
    fi
    read -r s mb < <(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
                /Maximum resident set size/ { m = $2 / 1024 }
                END { printf "%.2f %.0f\n", s, m }' "$t")
    times+=("$s") peaks+=("$mb")
    awk -v s="$s" -v u="${E2E_REPEAT_UNDER:-60}" 'BEGIN { exit !(s < u) }' || break
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%s ", a[int((NR + 1) / 2)] }'
  printf '%s\n' "${peaks[@]}" | sort -g | tail -1
}

accounts_of() {
  case $1 in
    150k) echo "19300 1240" ;;
    1m) echo "125000 8000" ;;
    10m) echo "1250000 80000" ;;
    *) echo "unknown size $1 (150k, 1m, 10m)" >&2; exit 2 ;;
  esac
}

# Results accumulate in $work/results.tsv (side, size, job, input, seconds, peak MB), newest
# last; the table takes the newest of each. E2E_SIDES=rs or py re-times one side only (for
# example churncal after a change, keeping the Python figures, which do not depend on it).
results="$work/results.tsv"
sides=${E2E_SIDES:-rs py}
for size in "${sizes[@]}"; do
  read -r accounts churned < <(accounts_of "$size")
  for ext in csv parquet; do
    f="$work/snap-$size.$ext"
    [ -f "$f" ] || "$bin" synth --accounts "$accounts" --churned "$churned" --out "$f" \
      --truth "$work/truth-$size.toml" --force --quiet
  done
  out="$work/out-$size"
  mkdir -p "$out/rs" "$out/py"
  candidate="$out/rs/cal/eight-pillars-calibrated.toml"
  for spec in ${E2E_JOBS:-score:csv score:parquet tiers:csv tiers:parquet calibrate:parquet calibrate1:parquet validate:parquet}; do
    job=${spec%%:*} ext=${spec##*:}
    data="$work/snap-$size.$ext"
    case $job in
      score) rs=("$bin" score --data "$data" --profile eight-pillars --out "$out/rs/scores.csv" --quiet) ;;
      tiers) rs=("$bin" tiers --data "$data" --profile eight-pillars --out "$out/rs/tiers" --quiet) ;;
      calibrate) rs=("$bin" calibrate --data "$data" --profile eight-pillars --bootstrap 0 --out "$out/rs/cal" --force --quiet) ;;
      calibrate1) rs=("$bin" calibrate --data "$data" --profile eight-pillars --lambda 0.001 --bootstrap 0 --out "$out/rs/cal1" --force --quiet) ;;
      validate) rs=("$bin" validate --data "$data" --candidate "$candidate" --incumbent eight-pillars --optimism-bootstrap 0 --out "$out/rs/val" --quiet) ;;
    esac
    pyargs=("$py" "$jobs_py" "$job" --data "$data" --out "$out/py/$job")
    case $job in
      validate) pyargs+=(--profile "$candidate" --incumbent "$prior") ;;
      *) pyargs+=(--profile "$prior") ;;
    esac
    for side in $sides; do
      if [ "$side" = rs ]; then
        read -r s mb < <(run "rs-$size-$job-$ext" 36000 "0 1" "${rs[@]}")
      else
        # Both validate jobs compare churncal's calibrated profile with the prior.
        [ "$job" != validate ] || [ -f "$candidate" ] ||
          "$bin" calibrate --data "$data" --profile eight-pillars --bootstrap 0 --out "$out/rs/cal" --force --quiet
        read -r s mb < <(run "py-$size-$job-$ext" "$py_timeout" "0" "${pyargs[@]}")
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$size" "$job" "$ext" "$s" "$mb" >>"$results"
      echo "$side $size $job $ext: $s s, $mb MB"
    done
  done
done

table="benches/results/e2e.md"
{
  echo "| rows | input | job | churncal s | churncal peak MB | Python s | Python peak MB | speed-up |"
  echo "|---:|---|---|---:|---:|---:|---:|---:|"
  for size in 150k 1m 10m; do
    [ -f "$work/snap-$size.csv" ] || continue
    rows=$(($(wc -l <"$work/snap-$size.csv") - 1))
    for spec in score:csv score:parquet tiers:csv tiers:parquet calibrate:parquet calibrate1:parquet validate:parquet; do
      job=${spec%%:*} ext=${spec##*:}
      awk -F'\t' -v size="$size" -v job="$job" -v ext="$ext" -v rows="$rows" -v lim="$py_timeout" '
        $2 == size && $3 == job && $4 == ext { s[$1] = $5; m[$1] = $6 }
        END {
          if (!("rs" in s) && !("py" in s)) exit
          rs = ("rs" in s) ? s["rs"] : "–"; py = ("py" in s) ? s["py"] : "–"
          ratio = "–"
          if (rs ~ /^[0-9.]+$/ && py ~ /^[0-9.]+$/) ratio = sprintf("%.0f×", py / rs)
          if (rs ~ /^[0-9.]+$/ && py == "timeout") { ratio = sprintf("> %.0f×", lim / rs); py = "> " lim }
          printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", rows, ext, job, rs, ("rs" in m) ? m["rs"] : "–", py, ("py" in m) ? m["py"] : "–", ratio
        }' "$results"
    done
  done
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); churncal $("$bin" --version | cut -d' ' -f2), $("$py" --version); profile eight-pillars (13 metrics)."
  echo "Reproduce: \`benches/e2e.sh 150k 1m 10m\`"
} >"$table.tmp"
mv "$table.tmp" "$table"
echo "wrote $table"
