#!/usr/bin/env bash
# Reproduces README's forecasting table: every cell on every sample series, through the fastlstm CLI.
# Usage: bash samples/run-all.sh [output-dir]   (about a minute on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-samples/results}
mkdir -p "$out"
dotnet build src/FastLstm.Cli -c Release -v q -nologo >/dev/null
fastlstm() { dotnet src/FastLstm.Cli/bin/Release/net10.0/FastLstm.Cli.dll "$@"; }
for cell in lstm gru rnn-tanh seed-lstm; do
  fastlstm train --csv samples/air-passengers.csv --column passengers --season 12 --cell "$cell" --out "$out/air-$cell.model" > "$out/air-$cell.txt"
  fastlstm train --csv samples/sunspots-monthly.csv --column sunspots --cell "$cell" --out "$out/sunspots-$cell.model" > "$out/sunspots-$cell.txt"
  fastlstm train --csv samples/eu-stock-markets.csv --column DAX --cell "$cell" --out "$out/dax-$cell.model" > "$out/dax-$cell.txt"
done
for f in "$out"/*.txt; do
  echo "== $(basename "$f" .txt)"
  grep -E "epochs in|│" "$f" | grep -v "method"
done
