#!/bin/sh
# eval_shrink.sh - a .npy that shrinks while `calib eval` streams it
# (mapped from the file, calib_npy_stream_map) ends with one line naming
# the file and exit status 4, as a truncated file does (docs/cli.md), not
# with a crash from SIGBUS, and prints no partial report.
#
# The input is a sparse 1 GB file of float32 zeros (250 000 x 1 000; no
# disk blocks), truncated to its first page while eval runs: the rows
# being computed vanish (SIGBUS), or the next chunk is found missing
# before it is mapped; both must say the file shrank. A run that finishes
# before the truncation proves nothing and is tried again with a shorter
# delay; if none is caught in the act, the test says so and skips.
CALIB=${CALIB:-build/calib}
if [ ! -x "$CALIB" ]; then
    echo "SKIP: $CALIB is not built"
    exit 77
fi
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
rows=250000
cols=1000

# a version 1.0 header (128 bytes), then the data as a hole
printf '\223NUMPY\001\000\166\000' > "$t/labels.npy"
printf "%-117s\n" "{'descr': '|u1', 'fortran_order': False, 'shape': ($rows,), }" \
    >> "$t/labels.npy"
truncate -s $((128 + rows)) "$t/labels.npy"

for delay in 0.3 0.1 0.03 0.01; do
    printf '\223NUMPY\001\000\166\000' > "$t/x.npy"
    printf "%-117s\n" "{'descr': '<f4', 'fortran_order': False, 'shape': ($rows, $cols), }" \
        >> "$t/x.npy"
    truncate -s $((128 + rows * cols * 4)) "$t/x.npy"
    "$CALIB" eval --logits "$t/x.npy" --labels "$t/labels.npy" \
        --format json > "$t/out.json" 2> "$t/err" &
    pid=$!
    sleep "$delay"
    truncate -s 4096 "$t/x.npy"
    wait "$pid"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "  delay $delay: eval finished before the truncation"
        continue
    fi
    lines=$(wc -l < "$t/err")
    if [ "$rc" -ne 4 ] || [ "$lines" -ne 1 ] ||
        ! grep -q "x.npy: .*shrank while" "$t/err"
    then
        echo "FAIL: exit $rc, stderr:"
        cat "$t/err"
        exit 1
    fi
    if [ -s "$t/out.json" ]; then
        echo "FAIL: a partial report was printed"
        exit 1
    fi
    echo "PASS: exit 4 after the file shrank (delay $delay s): $(cat "$t/err")"
    exit 0
done
echo "SKIP: every run finished before the truncation"
exit 77
