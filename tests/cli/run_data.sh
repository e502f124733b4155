#!/bin/sh
# calib run on every logits pair of ../shared/data: each prints its table,
# writes every model and summary.json, and the temperature it saves equals
# the exact optimum of tests/golden/calibrators.json (SciPy) within 1e-8.
# Skips when the data is absent.
CALIB=${CALIB:-build/calib}
D=../shared/data
G=tests/golden/calibrators.json
[ -x "$CALIB" ] || { echo "SKIP: $CALIB not built"; exit 77; }
[ -f "$D/README.md" ] || { echo "SKIP: ../shared/data not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

for split in cifar10-resnet50-ce cifar10-resnet50-focal cifar10lt-densenet40 \
             cifar10lt-resnet110 cifar10lt-resnet110sd cifar10lt-wrn28; do
    out="$tmp/$split"
    "$CALIB" run --val-logits $D/$split/val_logits.npy \
        --val-labels $D/$split/val_labels.npy \
        --test-logits $D/$split/test_logits.npy \
        --test-labels $D/$split/test_labels.npy --out "$out" \
        > "$tmp/table" 2> "$tmp/err" || {
        bad "$split: exit $? ($(cat "$tmp/err"))"; continue; }
    for m in uncalibrated temperature vector matrix dirichlet isotonic \
             histogram; do
        grep -q "^$m  *0\.[0-9]" "$tmp/table" || bad "$split: no $m row"
    done
    grep -q '^platt *skipped: ' "$tmp/table" || bad "$split: platt row"
    for m in temperature vector matrix dirichlet isotonic histogram; do
        [ -s "$out/$m.json" ] || bad "$split: no $m.json"
    done
    [ -s "$out/summary.json" ] || bad "$split: no summary.json"
    t=$(sed -n 's/.*"temperature": \([-0-9.e]*\).*/\1/p' "$out/temperature.json")
    want=$(awk -v s="\"$split\":" '$1 == s { f = 1 }
        f && $1 == "\"temperature\":" { sub(",", "", $2); print $2; exit }' $G)
    awk -v g="$t" -v w="$want" 'BEGIN { d = g / w - 1; if (d < 0) d = -d;
        exit !(d <= 1e-8) }' || bad "$split: T = $t, want $want"
    echo "$split: T = $t (SciPy $want)"
done
[ $fail -eq 0 ] && echo "run_data: ok"
exit $fail
