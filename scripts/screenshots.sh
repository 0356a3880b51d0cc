#!/usr/bin/env bash
# Screenshots of the demo's report and drift summary for docs/screenshots/ (the README shows them), 1366 px
# wide as the browser tests check them. Run after `make demo` and a Russian scoring and drift check:
#   .venv/bin/partner-churn score --data work/demo/data --as-of 2026-07-01 --lang ru
#   .venv/bin/partner-churn monitor drift --data work/demo/data --as-of 2026-07-01 --lang ru --set paths.reports_dir=work/reports-ru
set -euo pipefail
day=${1:-2026-07-01}
out=docs/screenshots
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
shot() {  # page, picture, height
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --window-size=1366,"$3" --screenshot="$2" "file://$(realpath "$1")" 2>/dev/null
}
owner_page() {  # the report's owner KPIs and LTV/NPS sections alone (the full page's picture ends above them)
  .venv/bin/python - "$1" "$2" <<'PY'
import sys
page = open(sys.argv[1], encoding="utf-8").read()
start, end = page.index('<section id="kpis">'), page.index('<section id="segments"')
open(sys.argv[2], "w", encoding="utf-8").write(page[: page.index("<body")] + "<body><main>" + page[start:end] + "</main></body></html>")
PY
}
shot "work/scores/$day/report.en.html" "$out/report-en.png" 2400
shot "work/scores/$day/report.ru.html" "$out/report-ru.png" 2400
for lang in en ru; do
  owner_page "work/scores/$day/report.$lang.html" "$profile/owner.$lang.html"
  shot "$profile/owner.$lang.html" "$out/owner-kpis-$lang.png" 1250
done
shot "work/reports/monitoring/$day/drift_summary.html" "$out/drift-summary-en.png" 1600
shot "work/reports-ru/monitoring/$day/drift_summary.html" "$out/drift-summary-ru.png" 1600
ls -l "$out"
