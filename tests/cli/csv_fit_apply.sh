#!/bin/sh
# calib fit, apply and run on CSV/TSV predictions. The CSVs are made here
# from the .npy fixtures of tests/fixtures/calibrators (od prints each
# float64 so that it reads back to the same bits), so a fit on the CSV
# must write the same model file, byte for byte, as a fit on the .npy, and
# apply and run must give the same bytes. Then the error cases: one line
# on stderr naming the file, line and column, with the documented status.
CALIB=${CALIB:-build/calib}
FX=tests/fixtures/calibrators
[ -x "$CALIB" ] || { echo "SKIP: $CALIB not built"; exit 77; }
command -v od > /dev/null || { echo "SKIP: no od"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# expect STATUS CMD...: the exit status, stdout and stderr kept
expect() {
    status_want=$1; shift
    "$@" > "$tmp/out" 2> "$tmp/err"
    got=$?
    [ "$got" -eq "$status_want" ] ||
        bad "exit $got, want $status_want: $* ($(cat "$tmp/err"))"
}

# fails STATUS TEXT CMD...: exit STATUS, one stderr line holding TEXT,
# nothing on stdout
fails() {
    status_want=$1; text=$2; shift 2
    expect "$status_want" "$@"
    [ "$(wc -l < "$tmp/err")" -eq 1 ] ||
        bad "$* printed $(wc -l < "$tmp/err") stderr lines: $(cat "$tmp/err")"
    grep -qF -- "$text" "$tmp/err" ||
        bad "$*: stderr lacks '$text': $(cat "$tmp/err")"
    [ -s "$tmp/out" ] && bad "$*: wrote on stdout"
}

# npy_rows FILE COLS: the float64 rows of a C-order .npy, one line each;
# npy_labels FILE: its int64 labels. The data is the last rows x cols x 8
# bytes of the file, the header the rest.
npy_len() { LC_ALL=C grep -ao "'shape': ([0-9]*" "$1" | tr -dc 0-9; }
npy_rows() {
    off=$(($(wc -c < "$1") - $(npy_len "$1") * $2 * 8))
    od -An -v -t f8 -w"$(($2 * 8))" -j "$off" "$1" | awk '{ $1 = $1; print }'
}
npy_labels() {
    off=$(($(wc -c < "$1") - $(npy_len "$1") * 8))
    od -An -v -t d8 -w8 -j "$off" "$1" | awk '{ print $1 }'
}

for s in val test; do
    npy_rows $FX/${s}_logits.npy 4 | tr ' ' ',' > "$tmp/$s.x"
    npy_labels $FX/${s}_labels.npy > "$tmp/$s.y"
    # label first, no header
    paste -d, "$tmp/$s.y" "$tmp/$s.x" > "$tmp/$s.csv"
    # TSV with a header, the label third and named y
    { printf 'l0\tl1\ty\tl2\tl3\n'
      paste -d, "$tmp/$s.x" "$tmp/$s.y" |
          awk -F, '{ printf "%s\t%s\t%s\t%s\t%s\n", $1, $2, $5, $3, $4 }'
    } > "$tmp/$s.tsv"
    # predictions alone, with a header
    { echo l0,l1,l2,l3; cat "$tmp/$s.x"; } > "$tmp/${s}_x.csv"
done
nv=$(wc -l < "$tmp/val.csv"); nt=$(wc -l < "$tmp/test.csv")
[ "$nv" -eq 300 ] && [ "$nt" -eq 200 ] || bad "the CSVs have $nv and $nt lines"

# --- fit: the CSV gives the same model file as the .npy ----------------
for m in temperature vector isotonic; do
    expect 0 "$CALIB" fit --method $m --logits $FX/val_logits.npy \
        --labels $FX/val_labels.npy -o "$tmp/$m.npy.json"
    cp "$tmp/out" "$tmp/$m.npy.out"
    expect 0 "$CALIB" fit --method $m --logits "$tmp/val.csv" \
        -o "$tmp/$m.csv.json"
    cmp -s "$tmp/$m.npy.json" "$tmp/$m.csv.json" ||
        bad "fit $m: the CSV's model differs from the .npy's"
    expect 0 "$CALIB" fit --method $m --logits "$tmp/val.tsv" \
        --label-col y -o "$tmp/$m.tsv.json"
    cmp -s "$tmp/$m.npy.json" "$tmp/$m.tsv.json" ||
        bad "fit $m: the TSV's model (--label-col y) differs"
done
# the temperature printed with 17 digits is the same too, and it is the
# one the fixture's exact optimum gives
t_npy=$(sed -n 's/^T = //p' "$tmp/temperature.npy.out")
expect 0 "$CALIB" fit --method temperature --logits "$tmp/val.csv" \
    --no-header --label-col 1 --delimiter , -o "$tmp/t.json"
t_csv=$(sed -n 's/^T = //p' "$tmp/out")
[ -n "$t_csv" ] && [ "$t_csv" = "$t_npy" ] ||
    bad "T = $t_csv from CSV, $t_npy from .npy"
awk -v g="$t_csv" -v w="$(cat $FX/expected_temperature.txt)" \
    'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= 1e-8 * w) }' ||
    bad "T = $t_csv, want $(cat $FX/expected_temperature.txt)"
# standard input
expect 0 "$CALIB" fit --method temperature --logits - -o "$tmp/t_stdin.json" \
    < "$tmp/val.csv"
cmp -s "$tmp/t_stdin.json" "$tmp/temperature.npy.json" ||
    bad "fit --logits - differs"

# --- apply: CSV (label column skipped, or none) equals .npy -------------
for m in temperature vector isotonic; do
    expect 0 "$CALIB" apply "$tmp/$m.npy.json" --logits $FX/test_logits.npy \
        -o "$tmp/$m.p.npy"
    expect 0 "$CALIB" apply "$tmp/$m.npy.json" --logits "$tmp/test.csv" \
        -o "$tmp/$m.p_csv.npy"
    cmp -s "$tmp/$m.p.npy" "$tmp/$m.p_csv.npy" ||
        bad "apply $m: CSV with labels gives other probabilities"
    expect 0 "$CALIB" apply "$tmp/$m.npy.json" --logits "$tmp/test.tsv" \
        --label-col=y -o "$tmp/$m.p_tsv.npy"
    cmp -s "$tmp/$m.p.npy" "$tmp/$m.p_tsv.npy" ||
        bad "apply $m: TSV --label-col y gives other probabilities"
    expect 0 "$CALIB" apply "$tmp/$m.npy.json" --logits "$tmp/test_x.csv" \
        --no-label-col -o "$tmp/$m.p_x.npy"
    cmp -s "$tmp/$m.p.npy" "$tmp/$m.p_x.npy" ||
        bad "apply $m: --no-label-col gives other probabilities"
done
expect 0 "$CALIB" apply "$tmp/temperature.npy.json" \
    --logits $FX/test_logits.npy -o "$tmp/p.csv"
expect 0 "$CALIB" apply "$tmp/temperature.npy.json" \
    --logits "$tmp/test_x.csv" --no-label-col -o "$tmp/p_x.csv"
cmp -s "$tmp/p.csv" "$tmp/p_x.csv" || bad "apply to OUT.csv differs"

# --- run: CSV splits, and one CSV with one .npy ---------------------------
expect 0 "$CALIB" run --val-logits $FX/val_logits.npy \
    --val-labels $FX/val_labels.npy --test-logits $FX/test_logits.npy \
    --test-labels $FX/test_labels.npy --methods temperature,vector,isotonic \
    --out "$tmp/r_npy"
sed '$d' "$tmp/out" > "$tmp/table_npy"
expect 0 "$CALIB" run --val-logits "$tmp/val.csv" \
    --test-logits "$tmp/test.csv" --methods temperature,vector,isotonic \
    --out "$tmp/r_csv"
sed '$d' "$tmp/out" > "$tmp/table_csv"
cmp -s "$tmp/table_npy" "$tmp/table_csv" || bad "run: CSV table differs"
grep -q '^temperature ' "$tmp/table_csv" || bad "run: no temperature row"
for m in temperature vector isotonic; do
    cmp -s "$tmp/r_npy/$m.json" "$tmp/r_csv/$m.json" ||
        bad "run: $m.json from CSV differs"
done
grep -q '"val_labels": null' "$tmp/r_csv/summary.json" &&
    grep -q '"test_labels": null' "$tmp/r_csv/summary.json" ||
    bad "run: summary.json should say null for labels inside the CSV"
expect 0 "$CALIB" run --val-logits "$tmp/val.tsv" --label-col y \
    --test-logits $FX/test_logits.npy --test-labels $FX/test_labels.npy \
    --methods temperature --out "$tmp/r_mix" --format json
cmp -s "$tmp/r_npy/temperature.json" "$tmp/r_mix/temperature.json" ||
    bad "run: TSV validation + .npy test differs"
grep -q '"test_labels": "' "$tmp/r_mix/summary.json" ||
    bad "run: the .npy split's labels file is missing from summary.json"

# --- errors: one line naming file, line and column ------------------------
sed '5s/^[0-9]*,/7,/' "$tmp/val.csv" > "$tmp/bad_label.csv"
fails 5 "$tmp/bad_label.csv: line 5, column 1: label 7 is out of range [0, 4)" \
    "$CALIB" fit --method temperature --logits "$tmp/bad_label.csv" \
    -o "$tmp/x.json"
sed '9s/^[0-9]*,/1.5,/' "$tmp/val.csv" > "$tmp/frac_label.csv"
fails 5 "$tmp/frac_label.csv: line 9, column 1: label '1.5' is not an integer" \
    "$CALIB" run --val-logits "$tmp/frac_label.csv" \
    --test-logits "$tmp/test.csv" --methods temperature --out "$tmp/r_bad"
sed '3s/,[^,]*$/,abc/' "$tmp/test.csv" > "$tmp/bad_value.csv"
fails 4 "$tmp/bad_value.csv: line 3, column 5: 'abc' is not a number" \
    "$CALIB" apply "$tmp/t.json" --logits "$tmp/bad_value.csv" \
    -o "$tmp/x.npy"
[ -e "$tmp/x.json" ] || [ -e "$tmp/x.npy" ] &&
    bad "a failed command wrote output"
fails 2 "drop --labels" "$CALIB" fit --method temperature \
    --logits "$tmp/val.csv" --labels $FX/val_labels.npy -o "$tmp/x.json"
fails 2 "drop --val-labels" "$CALIB" run --val-logits "$tmp/val.csv" \
    --val-labels $FX/val_labels.npy --test-logits "$tmp/test.csv"
fails 2 "drop --test-labels" "$CALIB" run --val-logits "$tmp/val.csv" \
    --test-logits "$tmp/test.csv" --test-labels $FX/test_labels.npy
fails 2 "label column 9 does not exist: line 1 has 5 fields" \
    "$CALIB" fit --method temperature --logits "$tmp/val.csv" \
    --label-col 9 -o "$tmp/x.json"
fails 2 "$tmp/val.tsv: line 1: no column named 'label' in the header" \
    "$CALIB" run --val-logits "$tmp/val.tsv" --label-col label \
    --test-logits $FX/test_logits.npy --test-labels $FX/test_labels.npy \
    --out "$tmp/r_bad"
fails 2 "--label-col counts from 1" "$CALIB" fit --method temperature \
    --logits "$tmp/val.csv" --label-col 0 -o "$tmp/x.json"
fails 2 "--labels" "$CALIB" fit --method temperature \
    --logits $FX/val_logits.npy -o "$tmp/x.json"
fails 2 "unknown argument '--no-label-col'" "$CALIB" fit \
    --method temperature --logits "$tmp/val_x.csv" --no-label-col \
    -o "$tmp/x.json"
# predictions alone given to apply without --no-label-col: column 1 is
# not a label, and the message says what to do
first=$(sed -n 1p "$tmp/test.x" | cut -d, -f1)
fails 5 "$tmp/test_x.csv: line 2, column 1: label '$first' is not an \
integer; a CSV of predictions alone needs --no-label-col" \
    "$CALIB" apply "$tmp/t.json" --logits "$tmp/test_x.csv" -o "$tmp/x.npy"
# ... and when column 1 happens to hold integers, the model's K says it
{ echo l0,l1,l2,l3; awk -F, '{ printf "%d,%s,%s,%s\n", NR % 3, $2, $3, $4 }' \
      "$tmp/test.x"; } > "$tmp/int_first.csv"
fails 7 "K = 4" "$CALIB" apply "$tmp/t.json" --logits "$tmp/int_first.csv" \
    -o "$tmp/x.npy"
grep -q -- "--no-label-col" "$tmp/err" ||
    bad "K mismatch: no --no-label-col hint"
[ -e "$tmp/x.npy" ] && bad "a failed apply wrote output"

[ $fail -eq 0 ] && echo "csv_fit_apply: ok"
exit $fail
