#!/bin/sh
# calib fit / apply / run on the small synthetic fixtures of
# tests/fixtures/calibrators (made by tests/golden/make_calibrators.py):
# T against SciPy's exact optimum, apply to .npy and .csv, the K check,
# every kind of bad model file with its exit status and message, a failed
# apply that keeps the earlier output, the run table, models and
# summary.json, binary input, and usage errors.
CALIB=${CALIB:-build/calib}
FX=tests/fixtures/calibrators
[ -x "$CALIB" ] || { echo "SKIP: $CALIB not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# |got - want| <= tol * max(1, |want|)
close() {
    awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN {
        d = g - w; if (d < 0) d = -d; s = w < 0 ? -w : w; if (s < 1) s = 1
        exit !(d <= t * s) }'
}

# expect STATUS CMD...: the exit status, stderr kept in $tmp/err
expect() {
    status_want=$1; shift
    "$@" > "$tmp/out" 2> "$tmp/err"
    got=$?
    [ "$got" -eq "$status_want" ] ||
        bad "exit $got, want $status_want: $* ($(cat "$tmp/err"))"
}

# --- fit: T equals the exact optimum -------------------------------------
expect 0 "$CALIB" fit --method temperature --logits $FX/val_logits.npy \
    --labels $FX/val_labels.npy -o "$tmp/t.json"
t=$(sed -n 's/^T = //p' "$tmp/out")
want=$(cat $FX/expected_temperature.txt)
close "$t" "$want" 1e-8 || bad "T = $t, want $want"
grep -q '"format": "calib-model"' "$tmp/t.json" || bad "model format key"
grep -q '"temperature": ' "$tmp/t.json" || bad "parameters.temperature"
expect 0 "$CALIB" fit --method temperature --logits $FX/val_logits.npy \
    --labels $FX/val_labels.npy -o "$tmp/t2.json" --format json
grep -q '"status": "converged"' "$tmp/out" || bad "fit --format json"

# --- apply: .npy and .csv, rows sum to 1 ----------------------------------
expect 0 "$CALIB" apply "$tmp/t.json" --logits $FX/test_logits.npy \
    -o "$tmp/p.npy"
[ -s "$tmp/p.npy" ] || bad "no p.npy"
expect 0 "$CALIB" apply "$tmp/t.json" --logits=$FX/test_logits.npy \
    -o "$tmp/p.csv"
rows=$(wc -l < "$tmp/p.csv")
[ "$rows" -eq 200 ] || bad "p.csv has $rows rows, want 200"
awk -F, '{ s = $1 + $2 + $3 + $4; if (s < 1 - 1e-12 || s > 1 + 1e-12 ||
           NF != 4) { bad = 1 } } END { exit bad }' "$tmp/p.csv" ||
    bad "p.csv rows do not sum to 1"

# --- the model's K must match the input's --------------------------------
cp "$tmp/p.npy" "$tmp/p_before.npy"
expect 7 "$CALIB" apply "$tmp/t.json" --logits $FX/binary_scores.npy \
    -o "$tmp/p.npy"
grep -q 'K = 4' "$tmp/err" && grep -q 'K = 2' "$tmp/err" ||
    bad "K mismatch message: $(cat "$tmp/err")"
cmp -s "$tmp/p.npy" "$tmp/p_before.npy" || bad "failed apply changed p.npy"

# --- bad model files ------------------------------------------------------
head -c 120 "$tmp/t.json" > "$tmp/trunc.json"
expect 7 "$CALIB" apply "$tmp/trunc.json" --logits $FX/test_logits.npy \
    -o "$tmp/q.npy"
grep -q 'trunc.json: line [0-9]*, column [0-9]*: malformed JSON' \
    "$tmp/err" || bad "truncated: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/err")" -eq 1 ] || bad "more than one error line"
sed 's/"version": 1/"version": 7/' "$tmp/t.json" > "$tmp/v7.json"
expect 7 "$CALIB" apply "$tmp/v7.json" --logits $FX/test_logits.npy \
    -o "$tmp/q.npy"
grep -q 'v7.json: key "version": version 7 is not supported' "$tmp/err" ||
    bad "version: $(cat "$tmp/err")"
sed 's/"method": "temperature"/"method": "softmax"/' "$tmp/t.json" \
    > "$tmp/m.json"
expect 7 "$CALIB" apply "$tmp/m.json" --logits $FX/test_logits.npy \
    -o "$tmp/q.npy"
grep -q 'unknown method "softmax"' "$tmp/err" || bad "method: $(cat "$tmp/err")"
sed 's/"format": "calib-model"/"format": "other"/' "$tmp/t.json" \
    > "$tmp/f.json"
expect 7 "$CALIB" apply "$tmp/f.json" --logits $FX/test_logits.npy \
    -o "$tmp/q.npy"
grep -q 'key "format"' "$tmp/err" || bad "format: $(cat "$tmp/err")"
sed 's/"temperature": /"temperature": -/' "$tmp/t.json" \
    > "$tmp/neg.json"
expect 7 "$CALIB" apply "$tmp/neg.json" --logits $FX/test_logits.npy \
    -o "$tmp/q.npy"
grep -q 'parameters.temperature' "$tmp/err" || bad "negative T: $(cat "$tmp/err")"
grep -v '"n_bins"' "$tmp/t.json" > "$tmp/nobins.json"
expect 7 "$CALIB" apply "$tmp/nobins.json" --logits $FX/test_logits.npy \
    -o "$tmp/q.npy"
grep -q 'conventions.n_bins": missing' "$tmp/err" ||
    bad "missing key: $(cat "$tmp/err")"
expect 3 "$CALIB" apply "$tmp/absent.json" --logits $FX/test_logits.npy \
    -o "$tmp/q.npy"
[ -e "$tmp/q.npy" ] && bad "a failed apply left q.npy"

# --- run: table, models, summary -------------------------------------------
expect 0 "$CALIB" run --val-logits $FX/val_logits.npy \
    --val-labels $FX/val_labels.npy --test-logits $FX/test_logits.npy \
    --test-labels $FX/test_labels.npy --out "$tmp/run"
for m in uncalibrated temperature vector matrix dirichlet isotonic \
         histogram; do
    grep -q "^$m " "$tmp/out" || bad "run table lacks $m"
done
grep -q '^platt *skipped: binary method, the input has K = 4' "$tmp/out" ||
    bad "platt not skipped with its reason"
for m in temperature vector matrix dirichlet isotonic histogram; do
    [ -s "$tmp/run/$m.json" ] || bad "run wrote no $m.json"
done
[ -e "$tmp/run/platt.json" ] && bad "run wrote platt.json"
s="$tmp/run/summary.json"
grep -q '"methods": \[' "$s" || bad "summary: no methods"
grep -q '"method": "beta", "skipped": "binary method' "$s" ||
    bad "summary: beta not skipped"
grep -q '"model": "isotonic.json"' "$s" || bad "summary: model file names"
grep -q '"classwise_ece": ' "$s" || bad "summary: test metrics"
# the model the run saved gives T of `calib fit`
tr=$(sed -n 's/.*"temperature": \([-0-9.e]*\).*/\1/p' "$tmp/run/temperature.json")
close "$tr" "$want" 1e-8 || bad "run T = $tr, want $want"
# --format json prints summary.json
expect 0 "$CALIB" run --val-logits $FX/val_logits.npy \
    --val-labels $FX/val_labels.npy --test-logits $FX/test_logits.npy \
    --test-labels $FX/test_labels.npy --out "$tmp/run2" \
    --methods temperature,isotonic --format json
cmp -s "$tmp/out" "$tmp/run2/summary.json" || bad "--format json != summary"
grep -c '"method": ' "$tmp/out" | grep -q '^2$' || bad "--methods list"

# binary scores: Platt and beta run
expect 0 "$CALIB" run --val-logits $FX/binary_scores.npy \
    --val-labels $FX/binary_labels.npy --test-logits $FX/binary_scores.npy \
    --test-labels $FX/binary_labels.npy --out "$tmp/bin" \
    --methods platt,beta,temperature,histogram
for m in platt beta temperature histogram; do
    [ -s "$tmp/bin/$m.json" ] || bad "binary run wrote no $m.json"
done
grep -q skipped "$tmp/out" && bad "binary run skipped a method"

# --- usage errors ------------------------------------------------------------
expect 2 "$CALIB" fit --method softmax --logits $FX/val_logits.npy \
    --labels $FX/val_labels.npy -o "$tmp/x.json"
expect 2 "$CALIB" fit --method temperature --logits $FX/val_logits.npy
expect 2 "$CALIB" run --val-logits $FX/val_logits.npy
expect 2 "$CALIB" run --val-logits $FX/val_logits.npy \
    --val-labels $FX/val_labels.npy --test-logits $FX/test_logits.npy \
    --test-labels $FX/test_labels.npy --methods temperature,nope
expect 2 "$CALIB" apply "$tmp/t.json" --logits $FX/test_logits.npy \
    -o "$tmp/p.txt"
expect 5 "$CALIB" fit --method temperature --logits $FX/val_logits.npy \
    --labels $FX/test_labels.npy -o "$tmp/x.json"

[ $fail -eq 0 ] && echo "run_fit_apply: ok"
exit $fail
