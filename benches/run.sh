#!/usr/bin/env bash
# Whole-binary benchmark of `permlens analyze` over generated multi-GB logs.
#
# Generates (once) 1 GiB JSON, APIG and CTS logs, a 4 GiB JSON log and a gzip copy of the
# 1 GiB JSON log, then times `analyze` with and without the matching snapshot, on 1 and 2
# threads, under /usr/bin/time -v, with a warm page cache. Every figure is printed next to
# baselines measured in the same run over the same file: `wc -l`, `cat > /dev/null` (and
# `zcat > /dev/null` for the .gz input). Then `--state` runs: a first run, a run with nothing
# new, and a night with one new day of logs. Results are appended to benches/RESULTS.md.
#
# Usage: benches/run.sh [DATA_DIR]     (default: benches/data, ignored by git; needs ~8 GB)
#        QUICK=1 benches/run.sh        (1 GiB inputs only)
#        REPS=5 benches/run.sh         (runs per stateless row, default 3: best and median)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/permlens-target}"
data="${1:-benches/data}"
mkdir -p "$data"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/permlens"
results=benches/RESULTS.md

gen() { # format size file
  [ -s "$3" ] || "$bin" generate --format "$1" --size "$2" --users 300 --seed 1 --days 7 --out "$3" --snapshot "$data/snapshot.json"
  # Older than the live-log window, so the file is memory-mapped as a rotated log would be.
  touch -d '1 hour ago' "$3"
}
gen json 1GiB "$data/json-1g.jsonl"
gen apig 1GiB "$data/apig-1g.log"
gen cts 1GiB "$data/cts-1g.jsonl"
[ -s "$data/json-1g.jsonl.gz" ] || gzip -1 -c "$data/json-1g.jsonl" > "$data/json-1g.jsonl.gz"
[ -n "${QUICK:-}" ] || gen json 4GiB "$data/json-4g.jsonl"

secs() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
# The VM's wall clock varies by 10-30% between identical runs: stateless rows run REPS times
# (default 3) and report the best and the median; baselines are the best of REPS too.
best() { # command...
  local i t b=""
  for ((i = 0; i < ${REPS:-3}; i++)); do
    t=$(secs "$@")
    if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN {exit !(t < b)}'; then b=$t; fi
  done
  echo "$b"
}

row() { # label file extra-args...
  local label=$1 file=$2; shift 2
  local bytes lines wc_s base_label base_s out wall rss walls reps i
  # A --state run changes the state it reads: run it once.
  reps=${REPS:-3}; [[ $label == *--state* ]] && reps=1
  bytes=$(stat -c %s "$file")
  cat "$file" > /dev/null # warm the page cache
  if [[ $file == *.gz ]]; then
    base_label=zcat; base_s=$(best sh -c "zcat '$file' > /dev/null")
    lines=$(zcat "$file" | wc -l)
  else
    base_label=cat; base_s=$(best sh -c "cat '$file' > /dev/null")
    lines=$(wc -l < "$file")
  fi
  wc_s=$(best wc -l "$file")
  walls=""; rss=0
  for ((i = 0; i < reps; i++)); do
    out=$( { /usr/bin/time -v "$bin" analyze "$file" --progress never -o "$data/report" --user-field custom_data_log1 "$@" > /dev/null; } 2>&1 )
    wall=$(echo "$out" | awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}')
    rss=$(echo "$out" | awk -F': ' -v r="$rss" '/Maximum resident set size/ {m=$2/1024; printf "%.0f", (m>r? m : r)}')
    walls="$walls $wall"
  done
  awk -v label="$label" -v b="$bytes" -v l="$lines" -v ws="$walls" -v rss="$rss" -v wc="$wc_s" -v base="$base_s" -v bl="$base_label" 'BEGIN {
    n = split(ws, w, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (w[j] < w[i]) { t = w[i]; w[i] = w[j]; w[j] = t }
    best = w[1]; median = w[int((n + 1) / 2)]
    printf "| %s | %.2f GB | %.2f | %.2f | %.0f | %.2f | %s | %.2f | %s %.2f | %.1fx | %.1fx |\n",
      label, b/1e9, best, median, b/1e6/best, l/1e6/best, rss, wc, bl, base, (wc>0? best/wc : 0), (base>0? best/base : 0) }'
}

{
  echo
  echo "## $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(awk '/model name/ {sub(/.*: /,""); print; exit}' /proc/cpuinfo), commit $(git rev-parse --short HEAD)"
  echo
  echo "Stateless rows: best and median of ${REPS:-3} runs (MB/s, lines/s and ratios from the best); --state rows: one run."
  echo
  echo "| run | input | best wall s | median s | MB/s | M lines/s | peak RSS MiB | wc -l s | baseline s | time / wc -l | time / baseline |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
} | tee -a "$results"

snap=(-p "$data/snapshot.json")
for j in 1 2; do
  row "json, no policies, -j$j" "$data/json-1g.jsonl" -j $j
  row "json, policies, -j$j" "$data/json-1g.jsonl" -j $j "${snap[@]}"
done | tee -a "$results"
{
  row "apig, policies, -j2" "$data/apig-1g.log" -j 2 "${snap[@]}"
  row "cts, policies, -j2" "$data/cts-1g.jsonl" -j 2 "${snap[@]}"
  row "json .gz, policies, -j2" "$data/json-1g.jsonl.gz" -j 2 "${snap[@]}"
  # Incremental state: a first run stores the partials; a run with nothing new only loads
  # them (its MB/s is over the file it skipped); a night with one new day of logs.
  st="$data/state"; rm -rf "$st" "$data/day"; mkdir -p "$data/day"
  row "json, policies, --state first run, -j2" "$data/json-1g.jsonl" -j 2 "${snap[@]}" --state "$st"
  row "json, policies, --state nothing new, -j2" "$data/json-1g.jsonl" -j 2 "${snap[@]}" --state "$st"
  "$bin" generate --format json --size 146MiB --users 300 --seed 2 --days 1 --out "$data/day/next.jsonl" 2>/dev/null
  touch -d '1 hour ago' "$data/day/next.jsonl"
  row "json, policies, --state one new day (146 MiB) on 1 GiB stored, -j2" "$data/day/next.jsonl" -j 2 "${snap[@]}" --state "$st"
  if [ -z "${QUICK:-}" ]; then
    row "json 4 GiB, no policies, -j2" "$data/json-4g.jsonl" -j 2
    row "json 4 GiB, policies, -j2" "$data/json-4g.jsonl" -j 2 "${snap[@]}"
  fi
} | tee -a "$results"
