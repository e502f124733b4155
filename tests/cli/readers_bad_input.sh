#!/bin/sh
# Bad input through `calib eval`: each case exits with its documented
# status and prints exactly one line on stderr naming the file and the
# position (row, line/column or header field). Good inputs in every
# format (.npy, .npz stored and deflated, CSV, TSV, stdin) exit 0.
F=tests/fixtures
[ -x "$CALIB" ] || { echo "SKIP: $CALIB not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect STATUS NEEDLE ARGS...: exit status, one stderr line holding NEEDLE
expect() {
    want=$1; needle=$2; shift 2
    "$CALIB" eval "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    lines=$(wc -l < "$tmp/err")
    if [ "$rc" -ne "$want" ] || [ "$lines" -ne "$([ "$want" -eq 0 ] && echo 0 || echo 1)" ] ||
       ! grep -qF -- "$needle" "$tmp/err" "$tmp/out"; then
        echo "FAIL: calib eval $*: exit $rc (want $want), stderr:"
        sed 's/^/    /' "$tmp/err"
        echo "    (want '$needle')"
        fail=1
    fi
}

L="--labels $F/lab_li8.npy"
expect 3 "no_such.npy: cannot open" --logits $F/no_such.npy $L
expect 4 "bad_truncated.npy: holds 100 bytes of data, header needs 120" \
    --logits $F/bad_truncated.npy $L
expect 4 "bad_more_rows.npy: holds 60 bytes of data, header needs 12000" \
    --logits $F/bad_more_rows.npy $L
expect 4 "bad_huge_rows.npy: header field 'shape'" \
    --logits $F/bad_huge_rows.npy $L
expect 4 "bad_c16.npy: header field 'descr': dtype '<c16'" \
    --logits $F/bad_c16.npy $L
expect 4 "bad_magic.npy: not a .npy file" --logits $F/bad_magic.npy $L
expect 5 "bad_lab_u8_big.npy: row 3: label 18446744073709551615" \
    --logits $F/m_lf8_c.npy --labels $F/bad_lab_u8_big.npy
expect 2 "arch_stored.npz:nope: no array 'nope'" \
    --probs $F/arch_stored.npz:nope --labels $F/arch_stored.npz:ground_truth
expect 2 "choose one as FILE.npz:KEY" \
    --probs $F/arch_stored.npz --labels $F/arch_stored.npz:ground_truth
expect 4 "bad_crc.npz:predictions: CRC-32 mismatch" \
    --logits $F/bad_crc.npz:predictions --labels $F/arch_stored.npz:ground_truth
expect 4 "bad_deflate.npz:predictions: corrupt deflate data" \
    --logits $F/bad_deflate.npz:predictions \
    --labels $F/arch_stored.npz:ground_truth
expect 4 "bad_fields.csv: line 3 has 4 fields, line 1 has 3" \
    --probs $F/bad_fields.csv
expect 4 "bad_number.csv: line 3, column 3: 'abc' is not a number" \
    --probs $F/bad_number.csv
expect 5 "bad_label.csv: line 3, column 1: label '-1' is negative" \
    --probs $F/bad_label.csv
expect 4 "bad_empty.csv: the file is empty" --probs $F/bad_empty.csv
expect 5 "bad_header_only.csv: has a header line but no data rows" \
    --probs $F/bad_header_only.csv
expect 5 "bad_toplabel_conf.csv: line 3, column 3: confidence 1.5" \
    --toplabel $F/bad_toplabel_conf.csv

# good inputs in every format give the same metrics (file names aside)
same() {
    grep -v '"predictions"\|"labels"\|"toplabel"' "$1" > "$1.m"
    grep -v '"predictions"\|"labels"\|"toplabel"' "$2" > "$2.m"
    cmp -s "$1.m" "$2.m"
}
expect 0 '"n": 5' --logits $F/arch_stored.npz:predictions \
    --labels $F/arch_stored.npz:ground_truth --format json
"$CALIB" eval --logits $F/arch_stored.npz:predictions \
    --labels $F/arch_stored.npz:ground_truth --format json > "$tmp/a" 2>&1
"$CALIB" eval --logits $F/m_lf4_f.npy \
    --labels $F/arch_deflated.npz:ground_truth.npy --format json > "$tmp/b" 2>&1
same "$tmp/a" "$tmp/b" || { echo "FAIL: npz and Fortran .npy differ"; fail=1; }
"$CALIB" eval --probs $F/preds_header.csv --format json > "$tmp/c" 2>&1
"$CALIB" eval --probs - --format json < $F/preds_header.csv > "$tmp/d" 2>&1
"$CALIB" eval --probs $F/preds.tsv --label-col y --format json > "$tmp/e" 2>&1
"$CALIB" eval --probs $F/preds_noheader.csv --label-col 3 --format json \
    > "$tmp/f" 2>&1
grep -q '"n": 3' "$tmp/c" || { echo "FAIL: CSV eval"; cat "$tmp/c"; fail=1; }
for x in d e f; do
    same "$tmp/c" "$tmp/$x" ||
        { echo "FAIL: CSV layout $x differs"; diff "$tmp/c" "$tmp/$x"; fail=1; }
done
[ $fail -eq 0 ] && echo "readers_bad_input: all passed"
exit $fail
