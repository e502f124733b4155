#!/bin/sh
# An archive member is named the same way by every command and every
# flag: ARCHIVE.npz:KEY and ARCHIVE.npz:KEY.npy give the same metrics,
# stored or deflated, for predictions and labels alike.
[ -x "${CALIB:-}" ] || { echo "SKIP: \$CALIB not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for a in tests/fixtures/arch_stored.npz tests/fixtures/arch_deflated.npz; do
    "$CALIB" eval --logits "$a:predictions" --labels "$a:ground_truth" \
        --format csv > "$tmp/plain" || { echo "FAIL: $a:KEY"; fail=1; }
    "$CALIB" eval --logits "$a:predictions.npy" --labels "$a:ground_truth.npy" \
        --format csv > "$tmp/suffix" || { echo "FAIL: $a:KEY.npy"; fail=1; }
    cmp -s "$tmp/plain" "$tmp/suffix" ||
        { echo "FAIL: $a: KEY and KEY.npy differ"; fail=1; }
    "$CALIB" plot --logits "$a:predictions.npy" --labels "$a:ground_truth.npy" \
        -o "$tmp/p.svg" || { echo "FAIL: plot $a:KEY.npy"; fail=1; }
done
# the stored archive holds float32, the deflated one float64 of the same
# values: the metrics agree to the last digit printed
s=tests/fixtures/arch_stored.npz; d=tests/fixtures/arch_deflated.npz
"$CALIB" eval --logits "$s:predictions" --labels "$s:ground_truth" \
    --format csv > "$tmp/s"
"$CALIB" eval --logits "$d:predictions" --labels "$d:ground_truth" \
    --format csv > "$tmp/d"
cmp -s "$tmp/s" "$tmp/d" || { echo "FAIL: float32 and float64 archives differ"; fail=1; }
[ $fail -eq 0 ] && echo "eval_specs: ok"
exit $fail
