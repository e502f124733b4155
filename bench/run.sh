#!/bin/sh
# bench/run.sh [BUILD] - calib against NumPy, PyTorch and scikit-learn, and
# against the time it takes to read the same bytes, all in one run on the
# same generated data. `make bench` builds and runs it; docs/performance.md
# explains each row and records a run.
#
# Environment:
#   BENCH_REPS=5        repeats of the fast tasks (the median is reported)
#   BENCH_SLOW_REPS=3   repeats of the peers' multi-second tasks
#   BENCH_TEMP_REPS=3   repeats of the PyTorch temperature recipe (slowest)
#   BENCH_N=50000 BENCH_K=1000 BENCH_SEED=42   the eval data
#   BENCH_BINARY_N=1000000   scores for isotonic regression and Platt
#   BENCH_BIG=1         also stream a 2 GB .npy (500 000 x 1 000 float32)
#                       through `calib eval` and report its peak RSS; needs
#                       2 GB free under BENCH_DIR and a minute or two
#   BENCH_DIR=/tmp      where the generated data goes (deleted at the end)
#   PYTHON=/usr/bin/python3   Debian's Python with the peers' packages
#   BENCH_ONLY=         comma-separated parts to run, all when empty:
#                       eval (read baseline, CLI, kernel, NumPy, PyTorch),
#                       temperature, isotonic, platt, threads, e.g.
#                       BENCH_ONLY=isotonic,platt (no 200 MB matrix then)
#
# The peers run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (set on
# some machines for old OpenBLAS builds; they slow a current NumPy), in
# that command only. A peer that is not installed is reported as skipped.
set -eu

B=${1:-build}
CALIB=$B/calib
BIN=$B/bench
REPS=${BENCH_REPS:-5}
SLOW=${BENCH_SLOW_REPS:-3}
TEMP_REPS=${BENCH_TEMP_REPS:-3}
N=${BENCH_N:-50000}
K=${BENCH_K:-1000}
SEED=${BENCH_SEED:-42}
NB=${BENCH_BINARY_N:-1000000}
PY=${PYTHON:-/usr/bin/python3}
HERE=$(dirname "$0")

for p in "$CALIB" "$BIN/gen" "$BIN/baseline" "$BIN/bench_eval" \
         "$BIN/bench_core" "$BIN/timeit"; do
    [ -x "$p" ] || { echo "run.sh: $p missing; run 'make bench'" >&2; exit 1; }
done

work=$(mktemp -d "${BENCH_DIR:-/tmp}/calib-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'rm -rf "$work"; exit 130' INT TERM
rows=$work/rows.tsv
: > "$rows"

# kv KEY LINE: the value of KEY=VALUE in LINE, empty if absent.
kv() {
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

peer() {
    if [ ! -x "$PY" ]; then
        echo "skipped=no_$PY"
        return
    fi
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        "$PY" "$HERE/peers.py" "$@" 2>> "$work/peers.err" ||
        echo "skipped=failed_(see_stderr)"
}

# row TASK CALIB_S PEER PEER_S MODE TARGET
#   MODE speedup: ratio = peer / calib, met when >= TARGET
#   MODE slowdown: ratio = calib / peer, met when <= TARGET
row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >> "$rows"
}

say() { printf '%s\n' "$*" >&2; }

# want PART: whether BENCH_ONLY selects PART (all parts when it is empty)
want() {
    case ",${BENCH_ONLY:-$1}," in
        *",$1,"*) return 0 ;;
        *) return 1 ;;
    esac
}

# results shown at the end, empty when their part did not run
kern="" np_line="" th_line="" tf="" tt_line="" te_line=""
iso_core="" iso_peer="" pl_core="" pl_peer="" pl="" iso=""

# ---------------------------------------------------------------- data
X=$work/logits.npy
Y=$work/labels.npy
if want eval || want temperature || want threads; then
    say "bench: generating $N x $K float32 logits (seed $SEED) in $work"
    "$BIN/gen" eval "$work" "$N" "$K" "$SEED"
    # the files just written: flushed, and read once, so that every timed
    # run reads from the page cache
    sync
    cat "$X" "$Y" > /dev/null
    "$CALIB" eval --logits "$X" --labels "$Y" --format json > /dev/null ||
        true
fi
"$BIN/gen" binary "$work" "$NB" "$SEED"

if want eval; then
# ---------------------------------------------------------------- (a) read
say "bench: read baseline"
base=$("$BIN/baseline" "$X" "$REPS")
base_s=$(kv time_s "$base")

# ---------------------------------------------------------------- (b) calib
say "bench: calib eval (CLI and kernel)"
cli=$("$BIN/timeit" "$REPS" "$work/eval.json" \
      "$CALIB" eval --logits "$X" --labels "$Y" --format json) ||
    cli="failed=1"
cli_s=$(kv time_s "$cli")
kern=$("$BIN/bench_eval" eval "$X" "$Y" "$REPS" 0) || kern="failed=1"
kern_s=$(kv time_s "$kern")

row "eval $N x $K: calib CLI vs read+sum" "$cli_s" \
    "read+sum, $(kv method "$base") (1 thread)" "$base_s" slowdown 2.5

# ---------------------------------------------------------------- (c, d)
say "bench: NumPy and PyTorch metrics ($SLOW repeats each)"
np_line=$(peer eval-numpy "$work" "$SLOW")
th_line=$(peer eval-torch "$work" "$SLOW")
np_s=$(kv time_s "$np_line"); th_s=$(kv time_s "$th_line")
[ -n "$np_s" ] || np_s="skipped"
[ -n "$th_s" ] || th_s="skipped"
row "eval: calib CLI (incl. read) vs NumPy" "$cli_s" "NumPy f64" "$np_s" \
    speedup 8
row "eval: calib CLI (incl. read) vs PyTorch" "$cli_s" \
    "PyTorch f64 CPU" "$th_s" speedup 5
row "eval: calib kernel vs NumPy" "$kern_s" "NumPy f64" "$np_s" speedup 8
row "eval: calib kernel vs PyTorch" "$kern_s" "PyTorch f64 CPU" "$th_s" \
    speedup 5
fi

# ---------------------------------------------------------------- (e)
if want temperature; then
say "bench: temperature scaling"
tf=$("$BIN/bench_eval" temperature "$X" "$Y" "$REPS" 0) || tf="failed=1"
tf_s=$(kv time_s "$tf")
tt_line=$(peer temperature-torch "$work" "$TEMP_REPS")
tt_s=$(kv time_s "$tt_line")
[ -n "$tt_s" ] || tt_s="skipped"
te_line=$(peer temperature-exact "$work" 1)
row "temperature fit: calib vs PyTorch LBFGS" "$tf_s" \
    "LBFGS(lr=0.01,max_iter=50)" "$tt_s" speedup 100
fi

# ---------------------------------------------------------------- (f, g)
# Two rows each, both like for like: the fit alone (calib's fitting
# routine against scikit-learn's fit), and calib_fit, which also applies
# the fitted map to every sample and reports the NLL before and after,
# against scikit-learn doing the same (fit, predict, both NLLs).
P=$work/probs.npy
S=$work/scores.npy
BL=$work/blabels.npy
if want isotonic; then
    say "bench: isotonic regression on $NB scores"
    iso_core=$("$BIN/bench_core" isotonic "$P" "$BL" "$REPS") ||
        iso_core="failed=1"
    iso_peer=$(peer isotonic-sklearn "$work" "$REPS")
    iso=$("$BIN/bench_eval" isotonic "$P" "$BL" "$REPS" 0) || iso="failed=1"
    iso_full=$(peer isotonic-sklearn-full "$work" "$REPS")
    row "isotonic $NB: fit alone" "$(kv time_s "$iso_core")" \
        "IsotonicRegression.fit" "$(kv time_s "$iso_peer")" speedup 3
    row "isotonic $NB: calib_fit (fit+apply+NLLs)" "$(kv time_s "$iso")" \
        "fit+predict+NLLs" "$(kv time_s "$iso_full")" speedup 3
fi
if want platt; then
    say "bench: Platt scaling on $NB scores"
    pl_core=$("$BIN/bench_core" platt "$S" "$BL" "$REPS") ||
        pl_core="failed=1"
    pl_peer=$(peer platt-sklearn "$work" "$REPS")
    pl=$("$BIN/bench_eval" platt "$S" "$BL" "$REPS" 0) || pl="failed=1"
    pl_full=$(peer platt-sklearn-full "$work" "$REPS")
    row "Platt $NB: fit alone" "$(kv time_s "$pl_core")" \
        "_sigmoid_calibration" "$(kv time_s "$pl_peer")" speedup 20
    row "Platt $NB: calib_fit (fit+apply+NLLs)" "$(kv time_s "$pl")" \
        "fit+expit+NLLs" "$(kv time_s "$pl_full")" speedup 20
fi

# ---------------------------------------------------------------- (i)
if want threads; then
say "bench: threads"
t1=$("$BIN/timeit" "$REPS" "$work/t1.json" "$CALIB" eval --threads 1 \
     --logits "$X" --labels "$Y" --format json) || t1="failed=1"
t2=$("$BIN/timeit" "$REPS" "$work/t2.json" "$CALIB" eval --threads 2 \
     --logits "$X" --labels "$Y" --format json) || t2="failed=1"
if [ -s "$work/t1.json" ] && cmp -s "$work/t1.json" "$work/t2.json"; then
    same=identical
else
    same=DIFFERENT
fi
row "eval --threads 2 vs 1: output $same" "$(kv time_s "$t2")" \
    "calib --threads 1" "$(kv time_s "$t1")" same "$same"
fi

# ---------------------------------------------------------------- (h)
if [ "${BENCH_BIG:-0}" = 1 ] && want eval; then
    say "bench: streaming a 2 GB .npy (500000 x 1000 float32)"
    mkdir "$work/big"
    "$BIN/gen" eval "$work/big" 500000 1000 "$SEED"
    big=$("$BIN/timeit" 1 "$work/big.json" "$CALIB" eval \
          --logits "$work/big/logits.npy" --labels "$work/big/labels.npy" \
          --format json) || big="failed=1"
    rss=$(kv max_rss_kb "$big")
    gnu=""
    if [ -x /usr/bin/time ]; then
        gnu=$(/usr/bin/time -v "$CALIB" eval --logits "$work/big/logits.npy" \
              --labels "$work/big/labels.npy" --format json 2>&1 \
              >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p')
    fi
    rm -rf "$work/big"
    if [ -n "$rss" ]; then
        rss_mb=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
        row "stream 2 GB: peak RSS in MB (time $(kv time_s "$big") s)" \
            "$rss_mb" "limit" 100 below 100
        [ -z "$gnu" ] || say "bench: GNU time -v peak RSS: $gnu kB"
    else
        row "stream 2 GB: peak RSS in MB" failed limit 100 below 100
    fi
fi

# ---------------------------------------------------------------- table
echo
echo "calib bench: $N x $K float32 logits, seed $SEED; $(nproc) cores;" \
     "median of $REPS runs (peers' slow tasks: $SLOW)"
echo
awk -F '\t' '
function num(x) { return x ~ /^[0-9.]+(e-?[0-9]+)?$/ }
BEGIN {
    printf "%-48s %10s  %-28s %10s %8s  %-8s %s\n", "task", "calib",
           "peer", "peer", "ratio", "target", "met"
}
{
    ratio = "-"; met = "n/a"
    if ($5 == "same") {
        target = "same bits"; met = ($6 == "identical") ? "met" : "NOT met"
        if (num($2) && num($4) && $2 > 0)
            ratio = sprintf("%.2fx", $4 / $2)
        if (!num($2) || !num($4)) met = "failed"
    } else if ($5 == "below") {
        if (num($2)) { ratio = "-"; met = ($2 < $6) ? "met" : "NOT met" }
        target = "< " $6
    } else if (num($2) && num($4) && $2 > 0 && $4 > 0) {
        if ($5 == "speedup") {
            r = $4 / $2; target = ">= " $6 "x"; met = (r >= $6) ? "met" : "NOT met"
        } else {
            r = $2 / $4; target = "<= " $6 "x"; met = (r <= $6) ? "met" : "NOT met"
        }
        ratio = sprintf("%.2fx", r)
    } else {
        target = ($5 == "speedup" ? ">= " : "<= ") $6 "x"
        if (!num($4)) met = "skipped"
        if (!num($2)) met = "failed"
    }
    c = num($2) ? sprintf("%.4f", $2) : ($2 == "" ? "failed" : $2)
    p = num($4) ? sprintf("%.4f", $4) : $4
    printf "%-48s %10s  %-28s %10s %8s  %-8s %s\n", $1, c, $3, p, ratio,
           target, met
}' "$rows"
echo
echo "times in seconds (RSS row: MB); ratio = peer / calib for speed-ups," \
     "calib / baseline for the read row"

# ---------------------------------------------------------------- checks
echo
echo "results side by side:"
if want eval; then
printf '  %-14s %-24s %-24s %-24s\n' metric calib NumPy PyTorch
for m in ece nll classwise_ece; do
    printf '  %-14s %-24s %-24s %-24s\n' "$m" "$(kv "$m" "$kern")" \
        "$(kv "$m" "$np_line")" "$(kv "$m" "$th_line")"
done
fi
if want isotonic; then
    echo "  isotonic: $(kv knots "$iso_core") knots; NLL after: calib" \
         "$(kv nll_after "$iso"), sklearn $(kv nll_after "$iso_full")"
fi
if want platt; then
    # sklearn returns A, B of 1 / (1 + exp(A s + B)): calib's a, b are -A, -B
    echo "  Platt: calib a $(kv a "$pl_core") b $(kv b "$pl_core")" \
         "($(kv iterations "$pl_core") full Newton steps)"
    awk -v a="$(kv a "$pl_peer")" -v b="$(kv b "$pl_peer")" 'BEGIN {
        if (a != "" && b != "")
            printf "         sklearn -A %.17g -B %.17g\n", -a, -b
    }'
    echo "         NLL after: calib $(kv nll_after "$pl")," \
         "sklearn $(kv nll_after "$pl_full")"
fi
if want eval; then
echo "  read+sum floor: read() $(kv read_s "$base") s, mmap $(kv mmap_s "$base") s" \
     "(the faster is the baseline)"
fi
if want temperature; then
t_exact=$(kv temperature "$te_line")
t_calib=$(kv temperature "$tf")
t_torch=$(kv temperature "$tt_line")
awk -v e="$t_exact" -v c="$t_calib" -v t="$t_torch" 'BEGIN {
    printf "  temperature: exact optimum (NumPy Newton) %s\n", e
    if (e != "" && c != "")
        printf "               calib %s, gap %.3g\n", c, c - e
    if (e != "" && t != "")
        printf "               PyTorch LBFGS recipe %s, gap %.3g\n", t, t - e
}'
echo "  calib fit: $(kv status "$tf"), $(kv iterations "$tf") iterations;" \
     "PyTorch threads: $(kv threads "$tt_line")"
fi
if [ -s "$work/peers.err" ]; then
    echo "peer messages:"
    sed 's/^/  /' "$work/peers.err" | tail -n 20
fi
