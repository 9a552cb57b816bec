#!/usr/bin/env bash
# FastLstm's default forecasts against statsmodels' Holt-Winters and SARIMA on every monthly sample series (last 24
# values held out) and the DAX (last 20 days): writes bench/results/forecast-vs-statsmodels.md. About 10 minutes.
# Needs Debian's python3-statsmodels (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c 'import statsmodels' 2>/dev/null; then
  (apt-get update && apt-get install -y python3-statsmodels) >/dev/null
fi
dotnet build src/FastLstm.Cli -c Release -v q -nologo >/dev/null
mkdir -p bench/results
/usr/bin/python3 bench/forecast_compare.py src/FastLstm.Cli/bin/Release/net10.0/FastLstm.Cli.dll bench/results/forecast-vs-statsmodels.md
