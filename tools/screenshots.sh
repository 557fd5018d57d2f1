#!/usr/bin/env bash
# Renders the samples' report.html in headless Chromium and saves full-page PNG screenshots
# at desktop (1440 px) and laptop (1366 px) widths: OUT_DIR/report-1440.png and
# OUT_DIR/report-1366.png (OUT_DIR defaults to docs/, where the README's screenshot lives).
#
#   tools/screenshots.sh [OUT_DIR]
#
# Needs Chromium (Debian: apt-get install chromium; or set CHROMIUM=/path/to/chrome) and
# python3 (standard library only). Exits 3 without Chromium, so callers can skip the step.
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir="${1:-docs}"
chromium="${CHROMIUM:-}"
if [ -z "$chromium" ]; then
    for c in chromium chromium-browser google-chrome; do
        if command -v "$c" >/dev/null 2>&1; then chromium="$(command -v "$c")"; break; fi
    done
fi
if [ -z "$chromium" ]; then
    echo "screenshots: no Chromium found (apt-get install chromium, or set CHROMIUM)" >&2
    exit 3
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/permlens-target}"
cargo build --quiet --locked
permlens="$CARGO_TARGET_DIR/debug/permlens"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Relative paths, so the page names samples/logs/... rather than this machine's checkout.
"$permlens" analyze samples/logs --policies samples/snapshot.json \
    --user-field custom_data_log1 --progress never --quiet --out "$work/report"

mkdir -p "$out_dir"
for width in 1440 1366; do
    python3 tools/screenshot.py --chromium "$chromium" \
        "$work/report/report.html" "$out_dir/report-$width.png" "$width"
done
