#!/bin/sh
# calib eval on each kind of bad input (fixtures in tests/cli/eval): the
# documented exit status, nothing on stdout, and one line on stderr that
# names the file and says what is wrong (the row, for bad values).
CALIB=${CALIB:-build/calib}
E=tests/cli/eval
[ -x "$CALIB" ] || { echo "SKIP: $CALIB not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# expect STATUS PATTERN ARGS...: exit STATUS, stderr one line matching
# the fixed string PATTERN, stdout empty
expect() {
    want=$1; pattern=$2; shift 2
    "$CALIB" eval "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ $rc -eq "$want" ] || bad "$*: exit $rc, want $want"
    [ "$(wc -l < "$tmp/err")" -eq 1 ] || bad "$*: stderr is not one line: $(cat "$tmp/err")"
    grep -qF -- "$pattern" "$tmp/err" || bad "$*: stderr '$(cat "$tmp/err")' lacks '$pattern'"
    [ -s "$tmp/out" ] && bad "$*: wrote to stdout"
}

expect 3 "$E/missing.npy: " --logits $E/missing.npy --labels $E/labels.npy
expect 3 "$E/missing_labels.npy: " --logits $E/logits.npy --labels $E/missing_labels.npy
expect 4 "$E/truncated.npy: " --logits $E/truncated.npy --labels $E/labels.npy
expect 5 "$E/logits_nan.npy: row 2: logit nan in column 1" \
    --logits $E/logits_nan.npy --labels $E/labels.npy
expect 5 "$E/labels_range.npy: row 4: label 3 is outside [0, 3)" \
    --logits $E/logits.npy --labels $E/labels_range.npy
expect 5 "$E/labels_negative.npy: row 7: label -2" \
    --logits $E/logits.npy --labels $E/labels_negative.npy
expect 5 "$E/labels_short.npy: 10 labels, but $E/logits.npy has 12 rows" \
    --logits $E/logits.npy --labels $E/labels_short.npy
expect 5 "$E/probs_sum.npy: row 3: probabilities sum to 0.9" \
    --probs $E/probs_sum.npy --labels $E/labels.npy
expect 5 "$E/empty.npy: " --logits $E/empty.npy --labels $E/labels_empty.npy
expect 5 "$E/noclasses.npy: " --logits $E/noclasses.npy --labels $E/labels.npy
expect 5 "$E/logits.npy: row 0: probability" --probs $E/logits.npy --labels $E/labels.npy

# usage errors: status 2
expect 2 "unknown argument '--bogus'" --logits $E/logits.npy --labels $E/labels.npy --bogus
expect 2 "--labels is required" --logits $E/logits.npy
expect 2 "exactly one of" --logits $E/logits.npy --probs $E/probs.npy --labels $E/labels.npy
expect 2 "exactly one of" --labels $E/labels.npy
expect 2 "--bins needs a positive whole number" --logits $E/logits.npy --labels $E/labels.npy --bins 0
expect 2 "--bin-rule is 'right' or 'left'" --logits $E/logits.npy --labels $E/labels.npy --bin-rule middle
expect 2 "--format is" --logits $E/logits.npy --labels $E/labels.npy --format xml
expect 2 "--eps needs a value in (0, 1)" --logits $E/logits.npy --labels $E/labels.npy --eps 2
expect 2 "--classes is for --toplabel" --logits $E/logits.npy --labels $E/labels.npy --classes 3
expect 2 "drop --labels" --probs $E/probs.csv --labels $E/labels.npy

# renormalising accepts the rows that do not sum to 1
"$CALIB" eval --probs $E/probs_sum.npy --labels $E/labels.npy --renormalize \
    > /dev/null 2>&1 || bad "--renormalize: exit $?"

[ $fail -eq 0 ] && echo "eval_errors: ok"
exit $fail
