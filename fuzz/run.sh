#!/usr/bin/env bash
# fuzz/run.sh - runs libFuzzer harnesses for a fixed time each (driven by
# `make fuzz-run`, see mk/targets-fuzz.mk).
#
#   fuzz/run.sh OUTDIR SECONDS JOBS NAME...
#
# Harness NAME is OUTDIR/NAME_fuzz. It fuzzes OUTDIR/corpus/NAME/ (the seeds
# of fuzz/corpus/NAME/ are copied in first; fuzz/corpus/ itself is never
# written), writes crashing inputs to OUTDIR/artifacts/NAME/ and its output
# to OUTDIR/logs/NAME.log. Up to JOBS harnesses run at once. One summary
# line per harness; the exit status is non-zero if any harness crashed,
# hung, leaked, ran out of memory or printed a sanitizer report.
set -u

out=$1 secs=$2 jobs=$3
shift 3
case $secs in '' | *[!0-9]*) echo "fuzz-run: SECONDS must be a number, got '$secs'" >&2; exit 2 ;; esac
case $jobs in '' | *[!0-9]* | 0) echo "fuzz-run: JOBS must be a positive number, got '$jobs'" >&2; exit 2 ;; esac
[ $# -gt 0 ] || { echo "fuzz-run: no harness named" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)

# Per input: a generous watchdog against hangs (libFuzzer's own default is
# 20 minutes). For the whole run: libFuzzer stops itself after SECONDS; the
# outer timeout only catches a fuzzer that does not.
per_input=${FUZZ_PER_INPUT:-25}
watchdog=$((secs + 120))

# halt_on_error: a TSan or UBSan report ends the run at once, so libFuzzer
# saves the input that caused it. TSan harnesses have no LeakSanitizer.
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

run_one() {
    local name=$1
    local bin=$out/${name}_fuzz corpus=$out/corpus/$name art=$out/artifacts/$name
    local log=$out/logs/$name.log status=$out/logs/$name.status
    rm -rf "$art"
    mkdir -p "$corpus" "$art" "$out/logs"
    if [ -d "$here/corpus/$name" ]; then cp -n "$here/corpus/$name"/* "$corpus"/ 2>/dev/null; fi
    timeout -k 10 "$watchdog" "$bin" -max_total_time="$secs" -print_final_stats=1 \
        -timeout="$per_input" -artifact_prefix="$art/" "$corpus" >"$log" 2>&1
    echo $? >"$status"
}

summary() {
    local name=$1
    local log=$out/logs/$name.log art=$out/artifacts/$name
    local rc verdict execs cov ft corp units
    rc=$(cat "$out/logs/$name.status" 2>/dev/null || echo 255)
    # libFuzzer's status lines: "#N <EVENT> cov: C ft: F corp: U/S lim: .. exec/s: E ..."
    cov=$(grep -oE ' cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    ft=$(grep -oE ' ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    corp=$(grep -oE ' corp: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    execs=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$log" | tail -1)
    units=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -1)
    verdict=ok
    if [ "$rc" != 0 ]; then
        verdict="FAILED (exit $rc)"
        [ "$rc" = 124 ] || [ "$rc" = 137 ] && verdict="FAILED (watchdog: still running after ${watchdog}s)"
    elif grep -qE '^(==[0-9]+==ERROR|WARNING: ThreadSanitizer|SUMMARY: [A-Za-z]+Sanitizer)|runtime error:' "$log"; then
        verdict="FAILED (sanitizer report)"
    elif [ -n "$(ls -A "$art" 2>/dev/null)" ]; then
        verdict="FAILED (artifact written)"
    elif [ -z "$execs" ]; then
        verdict="FAILED (no final stats)"
    fi
    printf 'fuzz-run: %-20s execs/s %8s  cov %5s  ft %6s  corpus %5s  units %10s  %s\n' \
        "$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${units:-?}" "$verdict"
    if [ "$verdict" != ok ]; then
        grep -m1 -E 'check failed|ERROR: |WARNING: ThreadSanitizer|runtime error:|Test unit written|ALARM|out-of-memory' "$log" |
            sed 's/^/    /'
        for a in "$art"/*; do
            [ -e "$a" ] && echo "    reproduce: $out/${name}_fuzz $a"
        done
        echo "    log: $log"
        return 1
    fi
    return 0
}

for name in "$@"; do
    [ -x "$out/${name}_fuzz" ] || { echo "fuzz-run: $out/${name}_fuzz not built" >&2; exit 2; }
    rm -f "$out/logs/$name.status"
done

echo "fuzz-run: $# harness(es), ${secs}s each, $jobs at a time"
for name in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    run_one "$name" &
done
wait

failed=0
for name in "$@"; do summary "$name" || failed=1; done
exit $failed
