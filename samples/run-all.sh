#!/usr/bin/env bash
# Reproduces README's backtest tables: the default forecaster on every sample series, through the fastlstm CLI.
# Usage: bash samples/run-all.sh [output-dir]   (a few minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-samples/results}
mkdir -p "$out"
dotnet build src/FastLstm.Cli -c Release -v q -nologo >/dev/null
fastlstm() { dotnet src/FastLstm.Cli/bin/Release/net10.0/FastLstm.Cli.dll "$@"; }
fastlstm train --csv samples/air-passengers.csv --column passengers --out "$out/air.model" > "$out/air.txt"
fastlstm train --csv samples/sunspots-monthly.csv --column sunspots --out "$out/sunspots.model" > "$out/sunspots.txt"
fastlstm train --csv samples/elnino-sst.csv --column sst_c --out "$out/elnino.model" > "$out/elnino.txt"
fastlstm train --csv samples/elec-equip.csv --column orders_index --out "$out/elec.model" > "$out/elec.txt"
fastlstm train --csv samples/eu-stock-markets.csv --column DAX --horizon 20 --out "$out/dax.model" > "$out/dax.txt"
fastlstm forecast --model "$out/air.model" --csv samples/air-passengers.csv --column passengers --steps 24 --out "$out/air-forecast.csv" --plot "$out/air-forecast.png" > /dev/null
for f in air sunspots elnino elec dax; do
  echo "== $f"
  grep -vE "^train " "$out/$f.txt"
done
