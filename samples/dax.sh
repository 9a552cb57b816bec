#!/usr/bin/env bash
# The main job: choose and train a forecaster on the DAX closing prices (1991-1998) at a 20-business-day horizon, then
# forecast the next 20 business days with prediction intervals.
# Writes samples/results/dax.model (+ .loss.png, .test.png), dax-forecast.csv and dax-forecast.png.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p samples/results
dotnet build src/FastLstm.Cli -c Release -v q -nologo >/dev/null
fastlstm() { dotnet src/FastLstm.Cli/bin/Release/net10.0/FastLstm.Cli.dll "$@"; }
fastlstm train --csv samples/eu-stock-markets.csv --column DAX --horizon 20 --out samples/results/dax.model
fastlstm forecast --model samples/results/dax.model --csv samples/eu-stock-markets.csv --column DAX --steps 20 \
  --out samples/results/dax-forecast.csv --plot samples/results/dax-forecast.png
