#!/usr/bin/env bash
# The settings search of the DoLL study (issue 9): the quick preset on phantoms with two
# fine-tuning seeds, once as is and once per changed setting, plus JSRT. Each run writes
# reports/search/<name>/ (runs.csv, report.md, ...). Usage: scripts/study_search.sh [doll binary]
set -euo pipefail
DOLL=${1:-.build/release/doll}
OUT=${OUT:-reports/search}
SHARED=${DOLL_SHARED:-../shared}
mkdir -p "$OUT"
run() {
  local name=$1; shift
  if [ -f "$OUT/$name/runs.csv" ]; then echo "skip $name (done)"; return; fi
  local t0=$(date +%s)
  "$DOLL" study --preset quick --out "$OUT/$name" --set seeds=1,2 "$@" > "$OUT/$name.log" 2>&1
  echo "$name: $(( $(date +%s) - t0 )) s"
}
run baseline
run threshold_p90 --set threshold=p90
run threshold_otsu --set threshold=otsu
run encoder_lr_0.3 --set encoder_lr_scale=0.3
run pretrain_8 --set pretrain_epochs=8
run boost_union --boost union
run ig_steps_32 --set ig_steps=32
run jsrt --downstream jsrt --data "$SHARED/data/jsrt"
run longer_finetune --set finetune_steps=1200 --set patience=400
