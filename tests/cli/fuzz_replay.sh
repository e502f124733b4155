#!/bin/sh
# fuzz_replay.sh - runs every fuzz target, without libFuzzer, over its
# seed corpus (fuzz/corpus/T), its minimised corpus (fuzz/minimized/T)
# and every input that once made it fail (fuzz/regressions/T). The replay
# drivers are built by `make tests`; under `make asan` they carry the
# sanitizers. A target aborts on a broken promise, so any non-zero exit
# is a failure.
B=${CALIB_BUILD:-build}
failed=0
for dir in fuzz/corpus/*/; do
    t=$(basename "$dir")
    bin="$B/fuzz/replay_$t"
    if [ ! -x "$bin" ]; then
        echo "FAIL: $bin is not built (make tests)"
        failed=1
        continue
    fi
    set -- "fuzz/corpus/$t"
    [ -d "fuzz/minimized/$t" ] && set -- "$@" "fuzz/minimized/$t"
    [ -d "fuzz/regressions/$t" ] && set -- "$@" "fuzz/regressions/$t"
    if ! "$bin" "$@"; then
        echo "FAIL: replay_$t $*"
        failed=1
    fi
done
exit $failed
