#!/usr/bin/env bash
# FastLstm against ONNX Runtime 1.31.1 and libtorch 2.10 (TorchSharp-cpu 0.107), same weights and sizes, one session:
#   0. every peer's output (and training gradients) checked equal to FastLstm's on every case;
#   1. the peers, the naive twin's streaming steps and the FMA peak, at the widest vector width this CPU accelerates;
#   2. FastLstm forced to 256 bits (FASTLSTM_ISA=256);
#   3. the engine of a baseline commit (default: 0be992f, the last 256-bit-only engine) on the same cases;
# then one report with ratios, % of peak and every target met or missed.
# Usage: bash bench/peers.sh [output-dir] [baseline-commit]   (about an hour; run it on a quiet machine, nothing else running)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results}
baseline=${2:-0be992f}
root=$(pwd)
# Every stage's CSV reports are kept (and committed) beside the markdown ones, so an interrupted session keeps what it measured.
mkdir -p "$out"
raw="$(cd "$out" && pwd)/peers"
rm -rf "$raw"
mkdir -p "$raw/v256" "$raw/baseline"
start=$(date +%s)

dotnet build bench/FastLstm.Bench -c Release -v q -nologo >/dev/null
bench() { dotnet "$root/bench/FastLstm.Bench/bin/Release/net10.0/FastLstm.Bench.dll" "$@"; }
dotnet src/FastLstm.Cli/bin/Release/net10.0/FastLstm.Cli.dll info 2>/dev/null > "$out/machine.txt" || true

bench --verify-peers > "$out/verify-peers.log"
bench --filter '*PeerBenchmarks*' '*TrainingPeerBenchmarks*' '*PeakProbe*' '*StepBenchmarks*' > "$out/benchmarkdotnet.log"
cp BenchmarkDotNet.Artifacts/results/*.csv BenchmarkDotNet.Artifacts/results/*-report-github.md "$raw/"

FASTLSTM_ISA=256 bench --filter '*PeerBenchmarks.Fused*' > "$out/benchmarkdotnet-256.log"
cp BenchmarkDotNet.Artifacts/results/FastLstm.Bench.*PeerBenchmarks-report.csv "$raw/v256/"

# The baseline's own bench project, built from a worktree of that commit, Fused methods only.
tree=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$tree" "$baseline" >/dev/null
git rev-parse --short "$baseline" > "$raw/baseline/commit"
(cd "$tree" && dotnet build bench/FastLstm.Bench -c Release -v q -nologo >/dev/null \
  && dotnet bench/FastLstm.Bench/bin/Release/net10.0/FastLstm.Bench.dll --filter '*PeerBenchmarks.Fused*' > "$root/$out/benchmarkdotnet-baseline.log" \
  && cp BenchmarkDotNet.Artifacts/results/FastLstm.Bench.*PeerBenchmarks-report.csv "$raw/baseline/")

bench --peer-report "$raw" "$out"
cp "$out/step-latency.png" docs/images/step-latency.png
echo "peers.sh: $(( ($(date +%s) - start) / 60 )) minutes"
