#!/usr/bin/env bash
# Two churncal binaries timed side by side: runs alternate (old, new, old, new, ...) so that
# a drift in the machine's speed affects both alike, and the outputs are compared.
#
#   benches/ab.sh OLD_BINARY NEW_BINARY RUNS churncal-arguments...
#   benches/ab.sh /tmp/cc-old target/release/churncal 3 \
#       validate --data big.parquet --candidate cand.toml --incumbent eight-pillars --out OUT
#
# Every argument OUT becomes an output folder per binary (under $AB_WORK, default
# target/ab), and the two folders are compared with `diff -r` at the end. Prints the best
# and median wall and user seconds of each binary.
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,11p "$0"; exit 2; }
old=$1 new=$2 runs=$3
shift 3
work=${AB_WORK:-target/ab}
rm -rf "$work"
mkdir -p "$work"
times="$work/times.txt"
for _ in $(seq "$runs"); do
  for side in old new; do
    bin=$old
    [ "$side" = new ] && bin=$new
    args=("${@//OUT/$work/$side}")
    status=0
    /usr/bin/time -f "$side %e %U" -a -o "$times" "$bin" "${args[@]}" >/dev/null 2>&1 || status=$?
    # Exit status 1 is a verdict (validate's gate failed), not a failure.
    [ $status -le 1 ] || { echo "$side failed (exit $status): $bin ${args[*]}" >&2; exit 1; }
  done
done
awk '$1 == "old" || $1 == "new" { w[$1] = w[$1] " " $2; u[$1] = u[$1] " " $3 }
  function stats(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return sprintf("best %.2f median %.2f", a[1], (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
  }
  END { for (s in w) printf "%s: wall %s, user %s\n", s, stats(w[s]), stats(u[s]) }' "$times" | sort -r
if [ -d "$work/old" ] || [ -d "$work/new" ]; then
  if diff -rq "$work/old" "$work/new" >/dev/null; then echo "outputs identical"; else echo "outputs differ:"; diff -rq "$work/old" "$work/new" || true; fi
fi
