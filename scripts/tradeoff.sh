#!/bin/sh
# tradeoff.sh - the lambda trade-off of the joint loss CE + lambda KL(q || p)
# (smoothing eps = 0.1): trains the Fashion-MNIST MLP of
# examples/train_mlp.c once per lambda in {0, 0.05, 0.1, 0.2, 0.5, 1}, with
# the same seed and epochs, measures each on the test split with
# `calib eval --format json`, and prints a Markdown table of accuracy, mean
# confidence, NLL, ECE (15 equal-width bins) and classwise ECE. lambda = 0
# is plain CE. Then `calib run` on the lambda = 0.1 model (or the last one)
# writes out/tradeoff/report.html with the table as a section.
#
# Writes out/tradeoff/tradeoff.md (the table), out/tradeoff/tradeoff.html
# (the same as an HTML fragment for the report) and the logits of each run
# under out/tradeoff/lambda-L/. Environment: B (build dir), OUT (default
# out/tradeoff), EPOCHS (default 20), THREADS (default 2), SEED (default 1),
# LAMBDAS (default "0 0.05 0.1 0.2 0.5 1"), REUSE=1 (keep the outputs of
# an earlier run with the same settings instead of training again).
set -eu
B=${B:-build}
OUT=${OUT:-out/tradeoff}
EPOCHS=${EPOCHS:-20}
THREADS=${THREADS:-2}
SEED=${SEED:-1}
LAMBDAS=${LAMBDAS:-"0 0.05 0.1 0.2 0.5 1"}

for f in "$B/calib" "$B/examples/train_mlp"; do
    [ -x "$f" ] || { echo "tradeoff: $f is missing; run 'make all examples'" >&2; exit 1; }
done
mkdir -p "$OUT"

# The value of a top-level key of a JSON object (numbers only): tracks
# the nesting depth so that keys of nested objects (bins) are not taken.
json_number() {
    awk -v key="$1" '
    { text = text $0 "\n" }
    END {
        depth = 0; instr = 0; n = length(text)
        for (i = 1; i <= n; i++) {
            c = substr(text, i, 1)
            if (instr) {
                if (c == "\\") { i++; continue }
                if (c == "\"") {
                    instr = 0
                    if (depth == 1 && str == key) { want = 1 }
                    continue
                }
                str = str c; continue
            }
            if (c == "\"") { instr = 1; str = ""; continue }
            if (c == "{" || c == "[") depth++
            else if (c == "}" || c == "]") depth--
            else if (want && c == ":") {
                rest = substr(text, i + 1)
                sub(/^[ \t\n]*/, "", rest)
                match(rest, /^[-+0-9.eE]+|^null/)
                print substr(rest, RSTART, RLENGTH); exit 0
            } else if (c != " " && c != "\t" && c != "\n") want = 0
        }
        exit 1
    }'
}

rows=""
for l in $LAMBDAS; do
    dir="$OUT/lambda-$l"
    echo "tradeoff: lambda = $l" >&2
    if [ "${REUSE:-0}" != 1 ] || [ ! -f "$dir/test_logits.npy" ]; then
        "$B/examples/train_mlp" --loss joint --lambda "$l" --smoothing 0.1 \
            --epochs "$EPOCHS" --seed "$SEED" --threads "$THREADS" --out "$dir"
    fi
    last="$dir"
    "$B/calib" eval --logits "$dir/test_logits.npy" \
        --labels "$dir/test_labels.npy" --format json > "$dir/eval.json"
    acc=$(json_number accuracy < "$dir/eval.json")
    nll=$(json_number nll < "$dir/eval.json")
    ece=$(json_number ece < "$dir/eval.json")
    cw=$(json_number classwise_ece < "$dir/eval.json")
    conf=$(json_number mean_confidence < "$dir/eval.json")
    rows="$rows$l $acc $conf $nll $ece $cw
"
done

fmt='{ printf "| %s | %.4f | %.4f | %.4f | %.4f | %.4f |\n", $1, $2, $3, $4, $5, $6 }'
{
    echo "| lambda | accuracy | mean confidence | NLL | ECE | classwise ECE |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s' "$rows" | awk "$fmt"
} > "$OUT/tradeoff.md"
{
    echo "<table class=\"tradeoff\">"
    echo "<caption>Joint loss CE + &lambda; KL(q || p), &epsilon; = 0.1:" \
         "Fashion-MNIST test split, $EPOCHS epochs, seed $SEED</caption>"
    echo "<thead><tr><th>&lambda;</th><th>accuracy</th>" \
         "<th>mean confidence</th><th>NLL</th>" \
         "<th>ECE</th><th>classwise ECE</th></tr></thead>"
    echo "<tbody>"
    printf '%s' "$rows" | awk '{ printf "<tr><td>%s</td><td>%.4f</td>" \
        "<td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td></tr>\n", \
        $1, $2, $3, $4, $5, $6 }'
    echo "</tbody></table>"
} > "$OUT/tradeoff.html"
cat "$OUT/tradeoff.md"

# the report: calib run on the lambda = 0.1 model, with the table above
d="$OUT/lambda-0.1"
[ -d "$d" ] || d="$last"
"$B/calib" run --val-logits "$d/val_logits.npy" --val-labels "$d/val_labels.npy" \
    --test-logits "$d/test_logits.npy" --test-labels "$d/test_labels.npy" \
    --out "$d/calib" --report "$OUT/report.html" \
    --report-extra "$OUT/tradeoff.html" \
    --title "calib: the lambda trade-off of the joint loss" > /dev/null
echo "tradeoff: table in $OUT/tradeoff.md, report in $OUT/report.html" >&2
