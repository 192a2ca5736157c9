#!/usr/bin/env bash
# Cultural Palette end to end on the embedded model, on a CPU (about 35 min on 2 cores; docs/palette.md, part 2):
# synthesis -> five continent models (ORPO) -> Cultural MoErges, Ties, Model Stock -> the palette with
# the merged meta agent, with and without Cultural MoErges. Needs: pip install 'culturescope[train]'.
# Usage: bash examples/palette-train-tiny.sh [WORKDIR]   (rerun to resume; finished steps are kept)
set -euo pipefail
W=${1:-runs/palette-tiny}
CS=${CULTURESCOPE:-culturescope}
$CS palette synthesize --limit 4 --max-tokens 128 --out "$W/data"
$CS palette train "$W/data" --role base=embedded --out "$W/models"
$CS palette merge "$W/models"
$CS palette run --trained "$W/models" --cultures USA,DEU,CHN,NGA,AUS --per-dimension 1 \
  --method palette,palette-no-cm,vanilla --max-tokens 64 --out "$W/palette"
