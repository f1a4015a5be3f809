#!/usr/bin/env bash
# The methods table of docs/methods.md: every model, one at a time, its console output kept.
cd "$(dirname "$0")/.."  # the repository; run from a checkout with the jax extra and pymc-extras installed
out=benchmarks/results/methods-$(date -u +%F)
mkdir -p "$out"
for m in ${MODELS:-single-coin two-factories mint rat-tumors gmm missing-data}; do
  { echo "\$ zoo methods $m --out $out  # $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
    /usr/bin/time -f "wall %e s" zoo methods "$m" --out "$out" 2>&1
    echo "exit $?"; } >> "$out/console.txt" 2>&1
done
echo done >> "$out/console.txt"
