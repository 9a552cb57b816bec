#!/usr/bin/env bash
# Coverage-guided fuzzing of the untrusted-input readers (model files, CSV, text corpora, ONNX, safetensors) with AFL++ and SharpFuzz.
# Usage: bash fuzz/run.sh [seconds-per-target] [target…]   (default 600 s each; targets: model csv text onnx safetensors)
# Installs Debian's afl++ and the SharpFuzz instrumenter if missing. Crash and hang inputs are copied to
# fuzz/crashes/TARGET/, where the replay test (tests/FastLstm.Tests/FuzzReplayTests.cs) runs them on every CI pass.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
if [[ $# -gt 0 ]]; then targets=("$@"); else targets=(model csv text onnx safetensors); fi

command -v afl-fuzz >/dev/null || { apt-get update >/dev/null && apt-get install -y afl++ >/dev/null; }
export PATH="$PATH:$HOME/.dotnet/tools"
command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0 >/dev/null

out=$(mktemp -d)
dotnet publish fuzz/FastLstm.Fuzz -c Release -o "$out/bin" -v q -nologo >/dev/null
# Instrument only the code under test, not the runtime or the harness.
for dll in FastLstm.Training.dll FastLstm.Cli.dll FastLstm.Onnx.dll FastLstm.dll; do sharpfuzz "$out/bin/$dll" >/dev/null; done

# dotnet itself is not instrumented; SharpFuzz instruments the assemblies and reports coverage through the shared memory.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
for target in "${targets[@]}"; do
  echo "fuzz: $target for $seconds s"
  afl-fuzz -V "$seconds" -t 10000 -m none -i "fuzz/corpus/$target" -o "$out/$target" -- dotnet "$out/bin/FastLstm.Fuzz.dll" "$target" > "$out/$target.log" 2>&1 || true
  stats="$out/$target/default/fuzzer_stats"
  if [[ -f "$stats" ]]; then
    grep -E '^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|stability)' "$stats" | tr -s ' ' | sed "s/^/  $target: /"
  else
    echo "  $target: afl-fuzz did not start; see its log:"; tail -20 "$out/$target.log"; exit 1
  fi
  mkdir -p "fuzz/crashes/$target"
  for f in "$out/$target"/default/crashes/id:* "$out/$target"/default/hangs/id:*; do
    [[ -e "$f" ]] && cp "$f" "fuzz/crashes/$target/$(basename "$(dirname "$f")")-$(sha1sum "$f" | cut -c1-12)"
  done
done
echo "fuzz: crash and hang inputs (if any) are in fuzz/crashes/"
