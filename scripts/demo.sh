#!/bin/sh
# demo.sh - the main job on its default input: trains the Fashion-MNIST
# MLP of examples/train_mlp.c twice (plain cross-entropy, long enough to
# become overconfident, and the joint loss CE + 0.1 KL(q || p)), then runs
# `calib run` on each model's validation and test logits and writes the
# HTML reports. Called by `make demo` after the build.
#
#   out/demo/ce/{val,test}_{logits,labels}.npy     the CE model's outputs
#   out/demo/joint/...                             the joint model's
#   out/demo/{ce,joint}/calib/                     calib run's models
#   out/demo/report-ce.html, report-joint.html     the reports
#
# Environment: B (build dir, default build), OUT (default out/demo),
# EPOCHS (default 20), THREADS (default 2), SEED (default 1).
set -eu
B=${B:-build}
OUT=${OUT:-out/demo}
EPOCHS=${EPOCHS:-20}
THREADS=${THREADS:-2}
SEED=${SEED:-1}

for f in "$B/calib" "$B/examples/train_mlp"; do
    [ -x "$f" ] || { echo "demo: $f is missing; run 'make all examples'" >&2; exit 1; }
done
mkdir -p "$OUT"
t0=$(date +%s)

echo "demo: training with cross-entropy ($EPOCHS epochs)" >&2
"$B/examples/train_mlp" --loss ce --epochs "$EPOCHS" --seed "$SEED" \
    --threads "$THREADS" --out "$OUT/ce"
echo "demo: training with the joint loss CE + 0.1 KL(q || p)" >&2
"$B/examples/train_mlp" --loss joint --lambda 0.1 --smoothing 0.1 \
    --epochs "$EPOCHS" --seed "$SEED" --threads "$THREADS" --out "$OUT/joint"
t1=$(date +%s)

# the lambda trade-off table of `make tradeoff`, when it has been run
extra=""
[ -f out/tradeoff/tradeoff.html ] && extra=out/tradeoff/tradeoff.html

for m in ce joint; do
    echo "demo: calib run on the $m model" >&2
    "$B/calib" run ${extra:+--report-extra "$extra"} \
        --title "calib demo: Fashion-MNIST MLP trained with $m loss" \
        --val-logits "$OUT/$m/val_logits.npy" \
        --val-labels "$OUT/$m/val_labels.npy" \
        --test-logits "$OUT/$m/test_logits.npy" \
        --test-labels "$OUT/$m/test_labels.npy" \
        --out "$OUT/$m/calib" --report "$OUT/report-$m.html"
done
t2=$(date +%s)
echo "demo: training $((t1 - t0)) s, calibration $((t2 - t1)) s;" \
     "reports in $OUT/report-ce.html and $OUT/report-joint.html" >&2
