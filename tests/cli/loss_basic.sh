#!/bin/sh
# calib loss: values of every loss and the joint gradient against PyTorch
# (tests/golden/loss_expected.txt, made by tests/golden/make_losses.py),
# logits [1e4, 1e4, -1e4] giving CE log 2, JSON output, and the exit
# statuses of bad input.
CALIB=${CALIB:-build/calib}
G=tests/golden
[ -x "$CALIB" ] || { echo "SKIP: $CALIB not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# |got - want| <= 1e-10 * max(1, |want|)
close() {
    awk -v g="$1" -v w="$2" 'BEGIN {
        d = g - w; if (d < 0) d = -d; s = w < 0 ? -w : w; if (s < 1) s = 1
        exit !(d <= 1e-10 * s) }'
}

# every loss's value, through --format json
while read -r name want rest; do
    case "$name" in grad) continue ;; esac
    loss=$name; extra=""
    case "$name" in
        joint-l0.5-eps0.2) loss=joint; extra="--lambda 0.5 --smoothing 0.2" ;;
    esac
    # shellcheck disable=SC2086
    out=$("$CALIB" loss --logits $G/loss_logits.npy --labels $G/loss_labels.npy \
          --loss "$loss" $extra --format json) || { bad "$name: exit $?"; continue; }
    got=$(printf '%s\n' "$out" | sed -n 's/^{"loss": \([^,]*\),.*/\1/p')
    close "$got" "$want" || bad "$name: loss $got, want $want"
done < $G/loss_expected.txt

# the joint gradient as .npy: float64, 6 x 3, values as PyTorch's
"$CALIB" loss --logits $G/loss_logits.npy --labels $G/loss_labels.npy \
    --loss joint --grad "$tmp/grad.npy" > "$tmp/table.txt" || bad "grad: exit $?"
grep -q "^value " "$tmp/table.txt" || bad "table has no value line"
grep -q "'descr': '<f8'" "$tmp/grad.npy" || bad "gradient is not <f8"
grep -q "'shape': (6, 3)" "$tmp/grad.npy" || bad "gradient shape is not (6, 3)"
hlen=$(od -A n -t u1 -j 8 -N 2 "$tmp/grad.npy" | awk '{ print $1 + 256 * $2 }')
od -A n -v -t f8 -j $((10 + hlen)) "$tmp/grad.npy" | tr -s ' ' '\n' |
    sed '/^$/d' > "$tmp/got.txt"
sed -n 's/^grad //p' $G/loss_expected.txt | tr ' ' '\n' > "$tmp/want.txt"
[ "$(wc -l < "$tmp/got.txt")" -eq 18 ] || bad "gradient has $(wc -l < "$tmp/got.txt") values"
paste "$tmp/got.txt" "$tmp/want.txt" | while read -r g w; do
    close "$g" "$w" || { echo "FAIL: gradient $g, want $w"; exit 1; }
done || fail=1

# logits [1e4, 1e4], label 0, written here as .npy: CE = log 2
npy() { # FILE DESCR SHAPE: header of a format 1.0 .npy, 64-byte aligned
    dict="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
    pad=$(( (64 - (10 + ${#dict} + 1) % 64) % 64 ))
    len=$(( ${#dict} + pad + 1 ))
    printf '\223NUMPY\001\000' > "$1"
    printf "\\$(printf %03o $((len % 256)))\\$(printf %03o $((len / 256)))" >> "$1"
    printf '%s%*s\n' "$dict" "$pad" "" >> "$1"
}
npy "$tmp/big.npy" '<f8' '(1, 2)'
printf '\000\000\000\000\000\210\303\100\000\000\000\000\000\210\303\100' >> "$tmp/big.npy"
npy "$tmp/y0.npy" '<i8' '(1,)'
printf '\000\000\000\000\000\000\000\000' >> "$tmp/y0.npy"
got=$("$CALIB" loss --logits "$tmp/big.npy" --labels "$tmp/y0.npy" --format json |
      sed -n 's/^{"loss": \([^,]*\),.*/\1/p')
close "$got" 0.69314718055994529 || bad "CE of [1e4, 1e4]: $got, want log 2"
for loss in smoothed kl joint focal focal-adaptive mmce soft-ece; do
    "$CALIB" loss --logits "$tmp/big.npy" --labels "$tmp/y0.npy" \
        --loss $loss --grad "$tmp/g.npy" > "$tmp/out" || bad "$loss at 1e4: exit $?"
    grep -Eq "^value +[0-9]" "$tmp/out" || bad "$loss at 1e4: $(cat "$tmp/out")"
done

# errors: unknown loss (2), missing file (3), bad option (2), row mismatch
"$CALIB" loss --logits $G/loss_logits.npy --labels $G/loss_labels.npy \
    --loss nope 2> "$tmp/err"; [ $? -eq 2 ] || bad "unknown loss: not 2"
[ "$(wc -l < "$tmp/err")" -eq 1 ] || bad "unknown loss: not one line"
"$CALIB" loss --logits "$tmp/none.npy" --labels $G/loss_labels.npy 2> /dev/null
[ $? -eq 3 ] || bad "missing file: not 3"
"$CALIB" loss --logits $G/loss_logits.npy --labels $G/loss_labels.npy \
    --loss kl --smoothing 1.5 2> /dev/null; [ $? -eq 2 ] || bad "smoothing 1.5: not 2"
"$CALIB" loss --logits $G/loss_logits.npy --labels $G/loss_logits.npy \
    2> /dev/null; rc=$?; [ $rc -ne 0 ] || bad "logits as labels accepted"
"$CALIB" loss --logits $G/loss_logits.npy 2> /dev/null
[ $? -eq 2 ] || bad "no --labels: not 2"
"$CALIB" loss --help | grep -q "usage: calib loss" || bad "no help"
[ -e "$tmp/none.npy" ] && bad "a file appeared"

[ $fail -eq 0 ] && echo "loss_basic: ok"
exit $fail
