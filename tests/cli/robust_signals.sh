#!/bin/sh
# robust_signals.sh - an interrupted or failing run leaves the earlier
# output file exactly as it was and no partial or temporary file.
#
# For `calib apply`, `calib fit` and `calib plot` (the metrics of `calib
# eval` written to a file; `calib eval` itself too once it takes -o), on
# an input large enough to take a moment: the earlier output is a file of
# known bytes; the run is sent SIGINT or SIGTERM, once early (while it
# reads or computes) and once as soon as its temporary file
# ".NAME.XXXXXX" appears (while it writes). The exit status must be 130
# or 143 (docs/cli.md), the earlier file byte-identical, and no
# temporary file left. Then runs that fail on bad input (truncated .npy,
# a missing file, labels of the wrong count) must not touch the output
# either. The large input is generated here, in a temporary directory.
CALIB=${CALIB:-build/calib}
if [ ! -x "$CALIB" ]; then
    echo "SKIP: $CALIB is not built"
    exit 77
fi
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
failed=0
conclusive=0

fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}

# npy FILE DESCR SHAPE: writes a version 1.0 .npy header (128 bytes)
npy_header() {
    printf '\223NUMPY\001\000\166\000' > "$1"
    printf "%-117s\n" "{'descr': '$2', 'fortran_order': False, 'shape': $3, }" \
        >> "$1"
}

# N rows x 3 float32 logits, all finite (ASCII bytes are never an
# all-ones exponent), and N uint8 labels in {0, 1, 2}.
make_input() {
    npy_header "$t/$1.npy" '<f4' "($2, 3)"
    yes ABCDEFGH | head -c $(($2 * 12)) >> "$t/$1.npy"
    npy_header "$t/$1_labels.npy" '|u1' "($2,)"
    yes ABCDEFGH | head -c "$2" | tr 'ABCDEFGH\n' '\000\001\002\000\001\002\000\001\002' \
        >> "$t/$1_labels.npy"
}

BIG=${CALIB_SIGNALS_ROWS:-2000000}
make_input small 3000
make_input big "$BIG"
if ! "$CALIB" fit --method temperature --logits "$t/small.npy" \
        --labels "$t/small_labels.npy" -o "$t/model.json" > /dev/null; then
    fail "fit on the small input"
    exit 1
fi

# Leaves $t/out/NAME holding the earlier output, and a copy to compare.
earlier() {
    rm -rf "$t/out"
    mkdir "$t/out"
    printf 'the earlier output of a run that worked\n' > "$t/out/$1"
    cp "$t/out/$1" "$t/earlier"
}

# check_kept NAME WHAT [FUNC]: the earlier file is kept, or (with FUNC)
# the signal landed after the rename and the file is the complete output
# of an uninterrupted run (made once, by FUNC, into $t/ref/NAME); and no
# temporary file is left. Returns 1 after a failure.
check_kept() {
    left=$(ls -A "$t/out" | grep -v "^$1\$")
    if [ -n "$left" ]; then
        fail "$2: left behind: $left"
        return 1
    fi
    cmp -s "$t/out/$1" "$t/earlier" && return 0
    if [ -n "$3" ]; then
        mkdir -p "$t/ref"
        [ -f "$t/ref/$1" ] || ($3 "$t/ref/$1") > /dev/null 2>&1
        if cmp -s "$t/out/$1" "$t/ref/$1"; then
            echo "note: $2: the signal came after the rename; complete output"
            return 0
        fi
    fi
    fail "$2: the earlier $1 was changed"
    return 1
}

# The commands, each writing to $1. They exec, so that in the background
# $! is calib itself and not a subshell waiting for it.
apply_probs() {
    # .npy or CSV by the name's extension
    exec "$CALIB" apply "$t/model.json" --logits "$t/big.npy" -o "$1"
}
fit_matrix() {
    exec "$CALIB" fit --method matrix --logits "$t/big.npy" \
        --labels "$t/big_labels.npy" -o "$1"
}
plot_svg() {
    exec "$CALIB" plot --logits "$t/big.npy" --labels "$t/big_labels.npy" \
        -o "$1"
}
eval_json() {
    exec "$CALIB" eval --logits "$t/big.npy" --labels "$t/big_labels.npy" \
        --format json -o "$1"
}

# interrupt SIGNAL STATUS WHEN NAME FUNC: runs FUNC $t/out/NAME in the
# background and signals it: WHEN = early (after 0.2 s), late (after
# 1 s), or write (as soon as a temporary ".NAME.*" exists).
interrupt() {
    sig=$1; want=$2; when=$3; name=$4; func=$5
    earlier "$name"
    $func "$t/out/$name" > /dev/null 2> "$t/stderr" &
    pid=$!
    case $when in
    early) sleep 0.2 ;;
    late) sleep 1 ;;
    write)
        i=0
        while [ $i -lt 6000 ] && kill -0 $pid 2> /dev/null &&
              [ -z "$(ls -A "$t/out" | grep "^\.$name\.")" ]; do
            sleep 0.005
            i=$((i + 1))
        done ;;
    esac
    kill -s "$sig" $pid 2> /dev/null
    wait $pid
    rc=$?
    what="$func ($sig, $when)"
    if [ $rc -eq 0 ]; then
        echo "note: $what finished before the signal: inconclusive"
        return
    fi
    conclusive=$((conclusive + 1))
    if [ $rc -ne "$want" ]; then
        fail "$what: exit $rc, want $want: $(cat "$t/stderr")"
    elif check_kept "$name" "$what" $func; then
        echo "ok: $what: exit $rc, no partial $name, no temporary file"
    fi
}

run_all() {
    sig=$1; want=$2
    for when in early write; do
        interrupt "$sig" "$want" $when out.npy apply_probs
        interrupt "$sig" "$want" $when plot.svg plot_svg
    done
    interrupt "$sig" "$want" late out.csv apply_probs
    interrupt "$sig" "$want" early model.json fit_matrix
    interrupt "$sig" "$want" late model.json fit_matrix
    if "$CALIB" help eval | grep -q -- '--output'; then
        interrupt "$sig" "$want" early eval.json eval_json
        interrupt "$sig" "$want" write eval.json eval_json
    fi
}

run_all INT 130
run_all TERM 143
[ $conclusive -gt 0 ] || fail "no run lasted long enough to be interrupted"

# failing runs: bad input leaves the earlier output alone
head -c 1000 "$t/big.npy" > "$t/truncated.npy"
npy_header "$t/few_labels.npy" '|u1' "(5,)"
printf '\000\001\002\000\001' >> "$t/few_labels.npy"

# bad_run STATUS NAME CMD...
bad_run() {
    want=$1; name=$2
    shift 2
    earlier "$name"
    "$@" > /dev/null 2> "$t/stderr"
    rc=$?
    what="$1 $2 on bad input"
    [ $rc -eq "$want" ] || fail "$what: exit $rc, want $want"
    [ "$(wc -l < "$t/stderr")" -eq 1 ] ||
        fail "$what: want one line on stderr, got: $(cat "$t/stderr")"
    check_kept "$name" "$what" &&
        echo "ok: $what: exit $rc: $(cat "$t/stderr")"
}

bad_run 4 out.npy "$CALIB" apply "$t/model.json" \
    --logits "$t/truncated.npy" -o "$t/out/out.npy"
bad_run 3 out.npy "$CALIB" apply "$t/model.json" \
    --logits "$t/missing.npy" -o "$t/out/out.npy"
bad_run 3 out.npy "$CALIB" apply "$t/missing.json" \
    --logits "$t/small.npy" -o "$t/out/out.npy"
bad_run 4 model.json "$CALIB" fit --method temperature \
    --logits "$t/truncated.npy" --labels "$t/small_labels.npy" \
    -o "$t/out/model.json"
bad_run 5 model.json "$CALIB" fit --method temperature \
    --logits "$t/small.npy" --labels "$t/few_labels.npy" \
    -o "$t/out/model.json"
bad_run 5 plot.svg "$CALIB" plot --logits "$t/small.npy" \
    --labels "$t/few_labels.npy" -o "$t/out/plot.svg"

[ $failed -eq 0 ] || exit 1
echo "robust_signals: $conclusive interrupted runs checked"
