#!/bin/sh
# calib eval: golden output of each format (table, json, csv) on the tiny
# synthetic fixtures of tests/cli/eval (made by make_fixtures.py; their
# numbers agree with tests/golden/make_metrics.py's NumPy code), CSV and
# top-label input, binary top-label ECE, NLL = inf with its note, the same
# bytes for any --threads, and `calib help eval`.
CALIB=${CALIB:-build/calib}
E=tests/cli/eval
[ -x "$CALIB" ] || { echo "SKIP: $CALIB not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# same() NAME EXPECTED COMMAND...: stdout must equal EXPECTED, exit 0
same() {
    name=$1; want=$2; shift 2
    "$@" > "$tmp/out" 2> "$tmp/err" || { bad "$name: exit $?"; cat "$tmp/err"; return; }
    [ -s "$tmp/err" ] && bad "$name: wrote to stderr: $(cat "$tmp/err")"
    cmp -s "$tmp/out" "$want" || { bad "$name: output differs"; diff "$want" "$tmp/out" | head -20; }
}

L="--logits $E/logits.npy --labels $E/labels.npy --bins 5"
# shellcheck disable=SC2086
same table $E/expected_table.txt "$CALIB" eval $L
# shellcheck disable=SC2086
same json $E/expected.json "$CALIB" eval $L --format json
# shellcheck disable=SC2086
same csv $E/expected.csv "$CALIB" eval $L --format csv
for t in 1 2 3; do
    # shellcheck disable=SC2086
    same "threads $t" $E/expected.json "$CALIB" eval $L --format json --threads $t
done
same csv-input $E/expected_csv_input.json "$CALIB" eval --probs $E/probs.csv \
    --label-col label --bins 5 --bin-rule left --scheme mass --format json
same csv-stdin $E/expected_csv_input.json sh -c "\"$CALIB\" eval --probs - \
    --label-col 3 --header --bins 5 --bin-rule left --scheme mass --format json \
    < $E/probs.csv | sed 's|\"predictions\": \"-\"|\"predictions\": \"$E/probs.csv\"|'"
same toplabel $E/expected_toplabel.txt "$CALIB" eval --toplabel $E/toplabel.csv --bins 5
same binary-top $E/expected_binary_top.json "$CALIB" eval --probs $E/binary_probs.npy \
    --labels $E/binary_labels.npy --bins 4 --top-label --format json
same zero-prob $E/expected_zero.txt "$CALIB" eval --probs $E/probs_zero.npy \
    --labels $E/labels.npy --bins 5

# structure of the JSON: every key the issue names, parsed by a real parser
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 - "$E/expected.json" <<'PY' || bad "json keys"
import json, sys
d = json.load(open(sys.argv[1]))
keys = ["n", "classes", "accuracy", "nll", "brier", "ece", "mce", "rmsce",
        "ace", "classwise_ece", "kl_smoothed", "bins", "conventions"]
assert all(k in d for k in keys), [k for k in keys if k not in d]
assert all(set(b) == {"lo", "hi", "count", "confidence", "accuracy"}
           for b in d["bins"])
assert d["conventions"]["bin_rule"] == "right"
assert d["conventions"]["ece_of"] == "top-label"
PY
    /usr/bin/python3 - "$E/expected_zero.txt" "$CALIB" "$E" <<'PY' || bad "inf as 1e999"
import json, subprocess, sys
out = subprocess.run([sys.argv[2], "eval", "--probs", sys.argv[3] + "/probs_zero.npy",
                      "--labels", sys.argv[3] + "/labels.npy", "--format", "json"],
                     capture_output=True, text=True, check=True).stdout
d = json.loads(out)
assert d["nll"] == float("inf") and d["nll_infinite_rows"] == 1
PY
fi
grep -q "NLL is inf" $E/expected_zero.txt || bad "no NLL inf note"

# help on stdout, exit 0
"$CALIB" help eval > "$tmp/help" || bad "help eval: exit $?"
grep -q "^usage: calib eval" "$tmp/help" || bad "help eval has no usage line"
grep -q -- "--bin-rule" "$tmp/help" || bad "help eval does not list --bin-rule"

[ $fail -eq 0 ] && echo "eval_formats: ok"
exit $fail
