#!/usr/bin/env bash
# Whole-binary benchmark of `permlens analyze` over generated multi-GB logs.
#
# Generates (once) 1 GiB JSON, APIG and CTS logs, a 4 GiB JSON log and a gzip copy of the
# 1 GiB JSON log, puts them in the page cache as a log read from disk would be (see settle),
# then times `analyze` with and without the matching snapshot, on 1 and 2
# threads, under /usr/bin/time -v, with a warm page cache. Every figure is printed next to
# baselines measured in the same run over the same file: `wc -l`, `cat > /dev/null` (and
# `zcat > /dev/null` for the .gz input). Then `--state` runs: a first run, a run with nothing
# new, and a night with one new day of logs. Results are appended to benches/RESULTS.md.
#
# Usage: benches/run.sh [DATA_DIR]     (default: benches/data, ignored by git; needs ~9 GB)
#        QUICK=1 benches/run.sh        (1 GiB inputs only)
#        REPS=5 benches/run.sh         (runs per stateless row, default 3: best and median)
#        DUCKDB_ONLY=1 benches/run.sh  (only the rows against DuckDB, below)
#        BEFORE=path/to/permlens benches/run.sh   (DuckDB rows: also time this other binary,
#                                       e.g. main's, in the same rounds)
#
# Against DuckDB (issue 24): when `python3 -c 'import duckdb'` works (`pip install duckdb`),
# the same 1 GiB JSON log and one where every line is a BSS call (`generate --bss-share 1`)
# are also run through benches/duckdb_job.py, DuckDB doing only the classification and the
# aggregation (per user x route x status: counts, first/last time) with the route table
# `permlens catalog --format csv` exports; each round runs `wc -l`, DuckDB and `analyze` with
# the snapshot, one after the other, and the rows give medians and the median of the per-round
# ratios. Checked once per run on the first 100k lines of each log: DuckDB's rows equal
# permlens' (counts, first and last times), or the script stops.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/permlens-target}"
data="${1:-benches/data}"
mkdir -p "$data"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/permlens"
results=benches/RESULTS.md

vs_duckdb() { # the rows against DuckDB (see the top of this file), appended to RESULTS.md
  if ! python3 -c 'import duckdb' 2>/dev/null; then
    echo "(DuckDB rows skipped: python3 cannot import duckdb; pip install duckdb)" | tee -a "$results"
    return 0
  fi
  local routes="$data/routes.csv" dtmp f r b label
  dtmp=$(mktemp -d)
  "$bin" catalog --format csv > "$routes"
  local pl=(analyze --progress never --user-field custom_data_log1 -j 2 -p "$data/snapshot.json")
  # Honesty first: the same rows from both on a small file of each kind.
  for f in "$data/json-1g.jsonl" "$data/json-1g-bss.jsonl"; do
    head -n 100000 "$f" > "$dtmp/head.jsonl"
    "$bin" "${pl[@]}" "$dtmp/head.jsonl" --format csv -o "$dtmp/report" > /dev/null 2>&1
    python3 benches/duckdb_job.py "$dtmp/head.jsonl" "$routes" "$dtmp/duck.csv" > /dev/null
    echo "check, $(basename "$f") first 100k lines: $(python3 benches/duckdb_job.py --check "$dtmp/duck.csv" "$dtmp/report/usage.csv")" | tee -a "$dtmp/checks"
  done
  local files=("$data/json-1g.jsonl" "$data/json-1g-bss.jsonl") bins=("$bin")
  [ -z "${BEFORE:-}" ] || bins+=("$BEFORE")
  for f in "${files[@]}"; do settle "$f"; done
  for ((r = 0; r < ${REPS:-5}; r++)); do
    for f in "${files[@]}"; do
      label=$(basename "$f" .jsonl)
      secs wc -l "$f" >> "$dtmp/$label.wc"
      # DuckDB's own time for the query (its import and connection not counted).
      python3 benches/duckdb_job.py "$f" "$routes" "$dtmp/duck.csv" >> "$dtmp/$label.duck"
      for b in "${!bins[@]}"; do
        secs "${bins[$b]}" "${pl[@]}" "$f" -o "$data/report" >> "$dtmp/$label.pl$b"
      done
    done
  done
  {
    echo
    echo "## $(date -u +%Y-%m-%dT%H:%MZ) against DuckDB $(python3 -c 'import duckdb; print(duckdb.__version__)') on $(nproc) cores, $(awk '/model name/ {sub(/.*: /,""); print; exit}' /proc/cpuinfo), commit $(git rev-parse --short HEAD)"
    echo
    echo "\`permlens analyze -j 2 -p snapshot.json\` (the whole run: scan, judge, report) against DuckDB doing only the classification and aggregation (\`benches/duckdb_job.py\`, 2 threads, the query's time inside DuckDB), ${REPS:-5} rounds, each running \`wc -l\`, DuckDB, then permlens$([ -z "${BEFORE:-}" ] || echo " and the binary before ($BEFORE)") on one file, then the other file. Medians of the rounds; ratios are medians of the per-round ratios (DuckDB / permlens: how many times permlens' time DuckDB takes). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    sed 's/^/- /' "$dtmp/checks"
    echo
    echo "| input | binary | permlens median s | DuckDB median s | wc -l median s | DuckDB / permlens (median of rounds) | range | permlens / wc -l (median of rounds) |"
    echo "|---|---|---|---|---|---|---|---|"
    for f in "${files[@]}"; do
      label=$(basename "$f" .jsonl)
      for b in "${!bins[@]}"; do
        paste -d' ' "$dtmp/$label.pl$b" "$dtmp/$label.duck" "$dtmp/$label.wc" | awk -v label="$label" -v bin="$([ "$b" = 0 ] && echo this || echo before)" '
          function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } return a[int((n + 1) / 2)] }
          { p[NR] = $1; d[NR] = $2; w[NR] = $3; q[NR] = ($1 > 0 ? $2 / $1 : 0); x[NR] = ($3 > 0 ? $1 / $3 : 0); lo = (NR == 1 || q[NR] < lo ? q[NR] : lo); hi = (q[NR] > hi ? q[NR] : hi) }
          END { printf "| %s | %s | %.2f | %.2f | %.2f | %.2fx | %.2f-%.2fx | %.2fx |\n", label, bin, med(p, NR), med(d, NR), med(w, NR), med(q, NR), lo, hi, med(x, NR) }'
      done
    done
  } | tee -a "$results"
  rm -rf "$dtmp"
}

# The page cache state of an input decides what mapping it costs: on this machine's kernel
# (Linux 6.18, ext4) a file read from disk is cached in folios of up to 2 MiB, which a mapping
# maps 2 MiB per page fault, while a file written in small appends (a live log, or this
# script's generator) stays in 4 KiB folios, mapped 64 KiB per fault: measured, 0.10-0.13 s
# more system time per GiB and ~0.1 s more wall time at -j2. `wc -l` and `cat` read with
# read(2), which copies a small folio at a higher cost too (`wc -l` 0.17-0.20 s against
# 0.14-0.15 s). So every input is first put in one known state, the one of a log read from
# disk (written back, dropped from the cache, read again), and one extra row measures a copy
# written in 4 KiB appends.
settle() { # file
  sync "$1"
  dd if="$1" iflag=nocache count=0 status=none
  cat "$1" > /dev/null
}
gen() { # format size file [extra generate args]
  [ -s "$3" ] || "$bin" generate --format "$1" --size "$2" --users 300 --seed 1 --days 7 --out "$3" --snapshot "$data/snapshot.json" "${@:4}"
  # Older than the live-log window, so the file is memory-mapped as a rotated log would be.
  touch -d '1 hour ago' "$3"
}
gen json 1GiB "$data/json-1g.jsonl"
[ -s "$data/json-1g-bss.jsonl" ] || gen json 1GiB "$data/json-1g-bss.jsonl" --bss-share 1
touch -d '1 hour ago' "$data/json-1g-bss.jsonl"
secs() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
if [ -n "${DUCKDB_ONLY:-}" ]; then vs_duckdb; exit 0; fi
gen apig 1GiB "$data/apig-1g.log"
gen cts 1GiB "$data/cts-1g.jsonl"
[ -s "$data/json-1g.jsonl.gz" ] || gzip -1 -c "$data/json-1g.jsonl" > "$data/json-1g.jsonl.gz"
[ -n "${QUICK:-}" ] || gen json 4GiB "$data/json-4g.jsonl"
# This VM's host takes page cache back at times; what is read again then is cached in large
# folios (by read(2)'s readahead, or by permlens' own mappings): the copy in 4 KiB appends is
# therefore written again before each of its runs.
appended="$data/json-1g-appended.jsonl"
append_copy() {
  dd if="$data/json-1g.jsonl" of="$appended" bs=4k status=none
  touch -d '1 hour ago' "$appended"
}
append_copy


# The VM's wall clock varies by 10-30% (at times more) between identical runs, and slow phases
# last minutes. Stateless rows therefore run REPS times (default 3) *interleaved*: each round
# runs every row once, with its `wc -l` and `cat`/`zcat` baselines just before it, so a slow
# phase hits all rows alike instead of one row's every run. Rows report the best and the
# median; baselines the best.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
labels=(); files=(); argss=()
spec() { # label file extra-args... (paths without spaces)
  labels+=("$1"); files+=("$2"); shift 2; argss+=("$*")
}

once() { # index: one run of row $1 and its baselines, appended to $tmp/<index>.*
  local i=$1 file=${files[$1]} out wall rss
  [ "$file" != "$appended" ] || append_copy
  # shellcheck disable=SC2086 # the extra arguments are space-separated words
  out=$( { /usr/bin/time -v "$bin" analyze "$file" --progress never -o "$data/report" --user-field custom_data_log1 ${argss[$i]} > /dev/null; } 2>&1 )
  wall=$(echo "$out" | awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}')
  rss=$(echo "$out" | awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}')
  echo "$wall" >> "$tmp/$i.wall"; echo "$rss" >> "$tmp/$i.rss"
  # Page faults tell the page cache state a run met: ~16k for 1 GiB in 2 MiB folios (mostly
  # the heap's), ~31k in 4 KiB folios.
  echo "$out" | awk -F': ' '/Minor \(reclaiming a frame\) page faults/ {print $2}' >> "$tmp/$i.minflt"
  if [[ ${labels[$i]} == *", -j1" ]]; then
    # What the machine itself gives this job on two cores: two one-thread runs at once
    # (each with its own report directory), timed together.
    # shellcheck disable=SC2086
    secs sh -c "'$bin' analyze '$file' --progress never -o '$data/pair-a' --user-field custom_data_log1 ${argss[$i]} > /dev/null &
      '$bin' analyze '$file' --progress never -o '$data/pair-b' --user-field custom_data_log1 ${argss[$i]} > /dev/null; wait" >> "$tmp/$i.pair"
  fi
  secs wc -l "$file" >> "$tmp/$i.wc"
  if [[ $file == *.gz ]]; then
    secs sh -c "zcat '$file' > /dev/null" >> "$tmp/$i.base"
  else
    secs sh -c "cat '$file' > /dev/null" >> "$tmp/$i.base"
  fi
}

report() { # index: the row's line of the table
  local i=$1 file=${files[$1]} bytes lines base_label
  bytes=$(stat -c %s "$file")
  if [[ $file == *.gz ]]; then base_label=zcat; lines=$(zcat "$file" | wc -l); else base_label=cat; lines=$(wc -l < "$file"); fi
  awk -v label="${labels[$i]}" -v b="$bytes" -v l="$lines" -v bl="$base_label" \
    -v ws="$(tr '\n' ' ' < "$tmp/$i.wall")" -v rs="$(tr '\n' ' ' < "$tmp/$i.rss")" \
    -v wcs="$(tr '\n' ' ' < "$tmp/$i.wc")" -v bs="$(tr '\n' ' ' < "$tmp/$i.base")" \
    -v fs="$(tr '\n' ' ' < "$tmp/$i.minflt")" 'BEGIN {
    n = split(ws, w, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (w[j] < w[i]) { t = w[i]; w[i] = w[j]; w[j] = t }
    best = w[1]; median = w[int((n + 1) / 2)]
    m = split(rs, r, " "); rss = 0; for (i = 1; i <= m; i++) if (r[i] > rss) rss = r[i]
    m = split(fs, f, " "); for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (f[j] < f[i]) { t = f[i]; f[i] = f[j]; f[j] = t }
    faults = f[int((m + 1) / 2)]
    m = split(wcs, c, " "); wc = c[1]; for (i = 2; i <= m; i++) if (c[i] < wc) wc = c[i]
    m = split(bs, a, " "); base = a[1]; for (i = 2; i <= m; i++) if (a[i] < base) base = a[i]
    # Each round times `wc -l` right after the run: the median of the per-round ratios
    # compares runs made seconds apart, which the ratio of two bests need not.
    n = split(ws, w, " "); split(wcs, c, " ")
    for (i = 1; i <= n; i++) q[i] = (c[i] > 0 ? w[i] / c[i] : 0)
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (q[j] < q[i]) { t = q[i]; q[i] = q[j]; q[j] = t }
    printf "| %s | %.2f GB | %.2f | %.2f | %.0f | %.2f | %s | %.1f | %.2f | %s %.2f | %.1fx | %.1fx | %.1fx |\n",
      label, b/1e9, best, median, b/1e6/best, l/1e6/best, rss, faults/1000, wc, bl, base, (wc>0? best/wc : 0), (base>0? best/base : 0), q[int((n + 1) / 2)] }'
}

scaling() { # the 1 -> 2 thread speed-up of rows labelled "<what>, -j1" and "<what>, -j2"
  local i k
  for i in "${!labels[@]}"; do
    [[ ${labels[$i]} == *", -j1" ]] || continue
    for k in "${!labels[@]}"; do
      [[ ${labels[$k]} == "${labels[$i]%, -j1}, -j2" ]] || continue
      # Rows of one round run seconds apart: the median of the per-round ratios.
      # The machine's own figure: one -j1 run's time, twice, over the time of two at once.
      paste -d' ' "$tmp/$i.wall" "$tmp/$k.wall" "$tmp/$i.pair" | awk -v what="${labels[$i]%, -j1}" '
        { r[NR] = ($2 > 0 ? $1 / $2 : 0); m[NR] = ($3 > 0 ? 2 * $1 / $3 : 0) }
        END {
          for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) {
            if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
            if (m[j] < m[i]) { t = m[i]; m[i] = m[j]; m[j] = t }
          }
          h = int((NR + 1) / 2)
          printf "%s: 1 -> 2 threads %.2fx (median of %d rounds; range %.2f-%.2fx); the machine, two -j1 runs at once against one: %.2fx (range %.2f-%.2fx)\n", what, r[h], NR, r[1], r[NR], m[h], m[1], m[NR] }'
    done
  done
}

interleaved() { # runs every spec'd row REPS times, round-robin, then prints them
  local r i
  # Warm the page cache, in the state of a log read from disk (see settle).
  local -A settled=()
  for i in "${!files[@]}"; do
    [ "${files[$i]}" = "$appended" ] || [ -n "${settled[${files[$i]}]:-}" ] || settle "${files[$i]}"
    settled[${files[$i]}]=1
  done
  for ((r = 0; r < ${REPS:-3}; r++)); do
    for i in "${!files[@]}"; do once "$i"; done
  done
  for i in "${!files[@]}"; do report "$i"; done
  local s; s=$(scaling)
  [ -z "$s" ] || speedups+="$s"$'\n'
  labels=(); files=(); argss=(); rm -f "$tmp"/*
}

single() { # label file extra-args...: one run (for --state rows, which change their state)
  local label=$1 file=$2; shift 2
  spec "$label" "$file" "$@"
  local keep=${REPS:-3}
  REPS=1 interleaved
  REPS=$keep
}

{
  echo
  echo "## $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(awk '/model name/ {sub(/.*: /,""); print; exit}' /proc/cpuinfo), commit $(git rev-parse --short HEAD)"
  echo
  echo "Stateless rows: best and median of ${REPS:-3} runs, interleaved round-robin across rows (MB/s, lines/s and the first two ratios from the best; the last, the median over the rounds of each run's time over the \`wc -l\` timed right after it); --state rows: one run. Thread speed-ups: median over the rounds of the -j1 run's time over the -j2 run's of the same round, beside what the machine gives the same job on two cores: each round also runs two -j1 runs at once, and 2 x (one -j1 run) / (the two at once) is about the most that threading the job can give. Inputs are in the page cache as read from disk (large folios), except the row of a copy written in 4 KiB appends (4 KiB folios)."
  echo
  echo "| run | input | best wall s | median s | MB/s | M lines/s | peak RSS MiB | minor faults, k (median) | wc -l s | baseline s | time / wc -l | time / baseline | per round: time / wc -l |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} | tee -a "$results"

snap="-p $data/snapshot.json"
speedups=""
{
  for j in 1 2; do
    spec "json, no policies, -j$j" "$data/json-1g.jsonl" -j $j
    spec "json, policies, -j$j" "$data/json-1g.jsonl" -j $j $snap
  done
  spec "apig, policies, -j2" "$data/apig-1g.log" -j 2 $snap
  spec "cts, policies, -j2" "$data/cts-1g.jsonl" -j 2 $snap
  spec "json .gz, policies, -j2" "$data/json-1g.jsonl.gz" -j 2 $snap
  spec "json written in 4 KiB appends, policies, -j2" "$appended" -j 2 $snap
  if [ -z "${QUICK:-}" ]; then
    spec "json 4 GiB, no policies, -j2" "$data/json-4g.jsonl" -j 2
    spec "json 4 GiB, policies, -j2" "$data/json-4g.jsonl" -j 2 $snap
  fi
  interleaved
  # Incremental state: a first run stores the partials; a run with nothing new only loads
  # them (its MB/s is over the file it skipped); a night with one new day of logs.
  st="$data/state"; rm -rf "$st" "$data/day"; mkdir -p "$data/day"
  single "json, policies, --state first run, -j2" "$data/json-1g.jsonl" -j 2 $snap --state "$st"
  single "json, policies, --state nothing new, -j2" "$data/json-1g.jsonl" -j 2 $snap --state "$st"
  "$bin" generate --format json --size 146MiB --users 300 --seed 2 --days 1 --out "$data/day/next.jsonl" 2>/dev/null
  touch -d '1 hour ago' "$data/day/next.jsonl"
  single "json, policies, --state one new day (146 MiB) on 1 GiB stored, -j2" "$data/day/next.jsonl" -j 2 $snap --state "$st"
  # After the table, which they would split.
  [ -z "$speedups" ] || { echo; printf '%s' "$speedups" | sed 's/^/- /'; }
} | tee -a "$results"
# Against DuckDB, last: it is skipped (and says so) when DuckDB is not installed.
vs_duckdb
