#!/usr/bin/env bash
# FastLstm against ONNX Runtime and libtorch, same weights and sizes, one session, one table.
# Usage: bash bench/peers.sh [output-dir]     (about 30 minutes; run it on a quiet machine, nothing else running)
# libtorch is Debian's PyTorch 1.13 with OpenBLAS: apt-get install python3-torch libopenblas0-pthread
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results}
mkdir -p "$out"
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "libtorch peer missing: apt-get install -y python3-torch libopenblas0-pthread" >&2
  exit 1
fi
dotnet build bench/FastLstm.Bench -c Release -v q -nologo >/dev/null
bench() { dotnet bench/FastLstm.Bench/bin/Release/net10.0/FastLstm.Bench.dll "$@"; }
cases=$(mktemp -d)
trap 'rm -rf "$cases"' EXIT
bench --export-peer-cases "$cases"
for threads in 1 2; do
  /usr/bin/python3 bench/torch_peer.py "$cases" "$threads" > "$out/torch-$threads.csv"
done
bench --filter '*PeerBenchmarks*' '*TrainingPeerBenchmarks*' '*PeakProbe*' '*StepBenchmarks*' > "$out/benchmarkdotnet.log"
bench --peer-report BenchmarkDotNet.Artifacts/results "$out" "$out/torch-1.csv" "$out/torch-2.csv"
