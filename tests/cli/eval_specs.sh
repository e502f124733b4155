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
# a file name that is not UTF-8 still gives valid JSON (U+FFFD in its place)
bad="$tmp/$(printf 'bad\377name').npz"
cp "$s" "$bad"
"$CALIB" eval --logits "$bad:predictions" --labels "$bad:ground_truth" \
    --format json > "$tmp/bad.json" || { echo "FAIL: eval on a non-UTF-8 name"; fail=1; }
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
assert '\ufffd' in d['conventions']['predictions']" "$tmp/bad.json" ||
        { echo "FAIL: JSON with a non-UTF-8 file name"; fail=1; }
else
    echo "note: /usr/bin/python3 absent; JSON validity of odd names not checked"
fi
[ $fail -eq 0 ] && echo "eval_specs: ok"
exit $fail
