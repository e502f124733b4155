#!/bin/sh
# Bad input through `calib eval`: each case exits with its documented
# status and prints exactly one line on stderr naming the file and the
# position (row, line/column or header field). Good inputs in every
# format (.npy, .npz stored and deflated, CSV, TSV, stdin, an .npy from a
# pipe) exit 0.
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

# values the CSV reader checks itself: 1-based line (header and blank
# lines counted) and column, not the metric code's 0-based data row
printf 'a,b,label\n\n\n0.2,0.8,0\n0.1,nan,1\n' > "$tmp/x.csv"
expect 5 "x.csv: line 5, column 2: value 'nan' is not finite" \
    --logits "$tmp/x.csv" --label-col 3
printf 'a,b,label\n0.2,0.8,0\n\n0.1,0.9,2\n' > "$tmp/r.csv"
expect 5 "r.csv: line 4, column 3: label 2 is out of range [0, 2)" \
    --logits "$tmp/r.csv" --label-col label
printf 'y,p\n0,0.2\n2,0.7\n' > "$tmp/b.csv"
expect 5 "b.csv: line 3, column 1: label 2 is out of range [0, 2)" \
    --probs "$tmp/b.csv"
printf 'p,y,p\n0.5,1,0.5\n' > "$tmp/d.csv"
expect 2 "d.csv: line 1: the header names two columns 'p' (columns 1 and 3)" \
    --probs "$tmp/d.csv" --label-col p
printf 'true_label,pred_label,confidence\n1,1,0.5\n2,-2,0.5\n' > "$tmp/t.csv"
expect 5 "t.csv: line 3, column 2: label '-2' is negative" \
    --toplabel "$tmp/t.csv"

# an .npy from a pipe: the magic and header are checked before the data is
# read, and no more is read than the header claims or the pipe delivers
T=; command -v timeout > /dev/null && T="timeout 60"
pipe_expect() {
    want=$1; needle=$2
    rc=$(
        { eval "$3" 2> /dev/null; } |
        { $T "$CALIB" eval --logits /dev/stdin --labels $F/lab_li8.npy \
            > /dev/null 2> "$tmp/err"; echo $?; }
    )
    if [ "$rc" -ne "$want" ] || [ "$(wc -l < "$tmp/err")" -ne 1 ] ||
       ! grep -qF -- "$needle" "$tmp/err"; then
        printf 'FAIL: %s | calib eval --logits /dev/stdin: exit %s (want %s):\n' "$3" "$rc" "$want"
        sed 's/^/    /' "$tmp/err"
        echo "    (want '$needle')"
        fail=1
    fi
}
pipe_expect 4 "/dev/stdin: not a .npy file (bad magic" "cat /dev/zero"
hdr="{'descr': '<f8', 'fortran_order': False, 'shape': (1073741824, 10), }"
pipe_expect 4 "the input ends after 1000000 bytes of data, header needs 85899345920" \
    "printf '\\223NUMPY\\001\\000v\\000%-117s\\n' \"\$hdr\"; head -c 1000000 /dev/zero"
pipe_expect 4 "the input ends inside the header (21 of its 118 bytes)" \
    "printf '\\223NUMPY\\001\\000v\\000%s' \"{'descr': '<f8', 'for\""
# a sound .npy from a pipe, with bytes after its data: the same numbers
A="--labels $F/arch_stored.npz:ground_truth --format csv"
"$CALIB" eval --logits $F/m_lf8_c.npy $A > "$tmp/file" 2>&1
{ cat $F/m_lf8_c.npy; head -c 100000 /dev/zero; } |
    "$CALIB" eval --logits /dev/stdin $A > "$tmp/pipe" 2>&1
grep -q '^5,3,' "$tmp/file" && cmp -s "$tmp/file" "$tmp/pipe" ||
    { echo "FAIL: an .npy from a pipe differs from the file"; cat "$tmp/pipe"; fail=1; }

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
