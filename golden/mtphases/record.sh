#!/usr/bin/env bash
# Observes the running DAMON context only through its tracepoint; changes nothing in DAMON.
set -e
cd /opt/app2
rm -rf out && mkdir -p out
perf record -q -k mono -a -e damon:damon_aggregated -o out/damon.perf.data -- sleep 46 &
sleep 1; perf record -q -k mono -g -F 499 -o out/perf.data ./mtphases 5; wait
cd out
perf archive perf.data
perf script -i damon.perf.data > damon.perf_script.txt
perf script -i perf.data > perf.script.txt
perf script --header-only -i perf.data > perf.header.txt
echo recorded
