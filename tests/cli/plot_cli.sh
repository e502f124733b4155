#!/bin/sh
# calib plot: the SVG parses as XML, draws one bar per non-empty bin with
# the numbers of `calib eval --format json` on the same input (ECE, MCE, N
# and each bin), pair mode with --model, escaping of a hostile title, exit
# statuses, and a failed run keeps the earlier file.
PY=/usr/bin/python3
DIR=$(cd "$(dirname "$0")" && pwd)
[ -x "$CALIB" ] || { echo "SKIP: \$CALIB not built"; exit 77; }
command -v xmllint >/dev/null 2>&1 ||
    { echo "SKIP: xmllint not installed (libxml2-utils)"; exit 77; }
[ -x "$PY" ] || { echo "SKIP: /usr/bin/python3 missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

# 400 samples, 3 classes, logits drawn by a fixed LCG: label,z0,z1,z2
awk 'BEGIN {
    s = 12345; print "label,z0,z1,z2";
    for (i = 0; i < 400; i++) {
        for (k = 0; k < 4; k++) { s = (s * 1103515245 + 12345) % 2147483648;
                                  u[k] = s / 2147483648 }
        y = int(u[0] * 3); z[0] = 0; z[1] = 0; z[2] = 0;
        z[y] = 3 * u[1] + 0.2; z[(y + 1) % 3] = 4 * u[2]; z[(y + 2) % 3] = u[3];
        printf "%d,%.6f,%.6f,%.6f\n", y, z[0], z[1], z[2]
    } }' > "$tmp/val.csv"

# --- the picture and its numbers --------------------------------------
"$CALIB" plot --logits "$tmp/val.csv" --bins 12 -o "$tmp/a.svg" ||
    fail "plot exited $?"
xmllint --noout "$tmp/a.svg" || fail "a.svg is not well-formed XML"
[ "$(xmllint --xpath 'name(/*)' "$tmp/a.svg")" = svg ] || fail "root not svg"

"$CALIB" plot --logits "$tmp/val.csv" --bins 7 --scheme mass \
    --bin-rule left --title 'a<b> & "c"' -o "$tmp/m.svg" ||
    fail "plot --scheme mass exited $?"
xmllint --noout "$tmp/m.svg" || fail "m.svg is not well-formed XML"
grep -q 'a&lt;b&gt; &amp; &quot;c&quot;' "$tmp/m.svg" || fail "title not escaped"

check_against_eval() { # SVG PANEL eval-flags...: PANEL single/before/after
    svg=$1; panel=$2; shift 2
    if ! "$CALIB" eval "$@" --format json > "$tmp/eval.json" 2>"$tmp/err"
    then
        echo "FAIL: calib eval --format json: $(head -n 1 "$tmp/err")"
        return 1
    fi
    "$PY" - "$svg" "$tmp/eval.json" "$panel" <<'PYEOF'
import json, sys
import xml.etree.ElementTree as ET
svg = ET.parse(sys.argv[1]).getroot()
ev = json.load(open(sys.argv[2]))
def find(d, key):
    if isinstance(d, dict):
        if key in d:
            return d[key]
        for v in d.values():
            r = find(v, key)
            if r is not None:
                return r
    return None
ns = "{http://www.w3.org/2000/svg}"
panel = [g for g in svg.iter(ns + "g")
         if g.get("data-panel") == sys.argv[3]][0]
bad = []
for key in ("ece", "mce", "n"):
    want = float(find(ev, key))
    got = float(panel.get("data-" + key))
    if got != want:
        bad.append("%s: svg %r, eval %r" % (key, got, want))
stats = {t.get("data-name"): t for t in panel.iter(ns + "text")
         if t.get("class") == "stat"}
for key in ("ece", "mce"):
    want = float(find(ev, key))
    if "".join(stats[key].itertext()) != "%s = %.4f" % (key.upper(), want):
        bad.append("legend %s: %r" % (key, "".join(stats[key].itertext())))
    if float(stats[key].get("data-value")) != want:
        bad.append("legend data-value %s" % key)
bins = find(ev, "bins")
bars = [r for r in panel.iter(ns + "rect") if r.get("class") == "bar"]
nonempty = [(i, b) for i, b in enumerate(bins) if int(b["count"]) > 0]
if len(bars) != len(nonempty):
    bad.append("%d bars for %d non-empty bins" % (len(bars), len(nonempty)))
for bar, (i, b) in zip(bars, nonempty):
    if int(bar.get("data-bin")) != i:
        bad.append("bar for bin %s, want %d" % (bar.get("data-bin"), i))
    for key in ("lo", "hi", "count", "confidence", "accuracy"):
        if float(bar.get("data-" + key)) != float(b[key]):
            bad.append("bin %d %s: svg %s, eval %r" %
                       (i, key, bar.get("data-" + key), b[key]))
    if abs(float(bar.get("height")) - 360 * float(b["accuracy"])) > 2e-3:
        bad.append("bin %d: height %s" % (i, bar.get("height")))
for line in bad[:10]:
    print("FAIL:", line)
print("compared %d bars, ECE %.4f, MCE %.4f" %
      (len(bars), float(find(ev, "ece")), float(find(ev, "mce"))))
sys.exit(1 if bad else 0)
PYEOF
}
compared=0
check_against_eval "$tmp/a.svg" single --logits "$tmp/val.csv" --bins 12
rc=$?; [ $rc -eq 0 ] && compared=$((compared + 1)); [ $rc -eq 1 ] && fail "a.svg"
check_against_eval "$tmp/m.svg" single --logits "$tmp/val.csv" --bins 7 \
    --scheme mass --bin-rule left
rc=$?; [ $rc -eq 0 ] && compared=$((compared + 1)); [ $rc -eq 1 ] && fail "m.svg"

# real data, when present: a 10-class .npy pair and a top-label CSV
data=../shared/data
if [ -f "$data/cifar10-resnet50-ce/test_logits.npy" ]; then
    d=$data/cifar10-resnet50-ce
    "$CALIB" plot --logits "$d/test_logits.npy" --labels "$d/test_labels.npy" \
        -o "$tmp/c.svg" || fail "plot on cifar10 exited $?"
    check_against_eval "$tmp/c.svg" single --logits "$d/test_logits.npy" \
        --labels "$d/test_labels.npy"
    rc=$?; [ $rc -eq 0 ] && compared=$((compared + 1)); [ $rc -eq 1 ] && fail "c.svg"
    t=$data/imagenet-toplabel/torchvision_resnext101_32x8d.csv
    "$CALIB" plot --toplabel "$t" --bins 20 -o "$tmp/t.svg" ||
        fail "plot --toplabel exited $?"
    # the published reference of ../shared/data/README.md
    grep -q 'data-name="ece" data-value="0.0807362915143370' "$tmp/t.svg" ||
        fail "top-label ECE is not 0.08073629151433703"
    grep -q '>ECE = 0.0807<' "$tmp/t.svg" || fail "legend ECE"
    grep -q '>N = 50000<' "$tmp/t.svg" || fail "legend N"
    [ "$(grep -c 'class="bar"' "$tmp/t.svg")" = 20 ] || fail "20 bars"
    check_against_eval "$tmp/t.svg" single --toplabel "$t" --bins 20
    rc=$?; [ $rc -eq 0 ] && compared=$((compared + 1)); [ $rc -eq 1 ] && fail "t.svg"
fi

# binary: one score column; the calibrated [1 - p, p] is drawn as p
awk -F, 'NR > 1 { z = $3 - $2; print ($1 == 1 ? 1 : 0) "," z }' \
    "$tmp/val.csv" > "$tmp/bin.csv"
"$CALIB" plot --logits "$tmp/bin.csv" --no-header -o "$tmp/b.svg" ||
    fail "binary plot exited $?"
grep -q '>binary: p against y<' "$tmp/b.svg" || fail "binary legend"
check_against_eval "$tmp/b.svg" single --logits "$tmp/bin.csv" --no-header
rc=$?; [ $rc -eq 0 ] && compared=$((compared + 1)); [ $rc -eq 1 ] && fail "b.svg"
# --- before / after a saved calibrator --------------------------------
# the CSVs as .npy (fit and apply read .npy), written with struct only
"$PY" - "$tmp" <<'PYEOF'
import struct, sys
d = sys.argv[1]
def save(path, descr, shape, values, fmt):
    head = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (
        descr, "(%d,)" % shape[0] if len(shape) == 1 else str(shape))
    head += " " * (63 - (10 + len(head)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)))
        f.write(head.encode() + struct.pack("<%d%s" % (len(values), fmt),
                                            *values))
rows = [l.strip().split(",") for l in open(d + "/val.csv")][1:]
save(d + "/val.npy", "<f8", (len(rows), 3),
     [float(v) for r in rows for v in r[1:]], "d")
save(d + "/val_y.npy", "<i8", (len(rows),), [int(r[0]) for r in rows], "q")
rows = [l.strip().split(",") for l in open(d + "/bin.csv")]
save(d + "/bin.npy", "<f8", (len(rows),), [float(r[1]) for r in rows], "d")
save(d + "/bin_y.npy", "<i8", (len(rows),), [int(r[0]) for r in rows], "q")
PYEOF
pair() { # METHOD PREDS LABELS NAME [binary]
    "$CALIB" fit --method "$1" --logits "$2" --labels "$3" \
        -o "$tmp/$4.json" >/dev/null 2>"$tmp/err" ||
        { fail "calib fit $1: $(head -n 1 "$tmp/err")"; return; }
    "$CALIB" plot --logits "$2" --labels "$3" --model "$tmp/$4.json" \
        -o "$tmp/$4.svg" || { fail "plot --model $1 exited $?"; return; }
    xmllint --noout "$tmp/$4.svg" || fail "$4.svg is not XML"
    [ "$(grep -c '<g class="panel"' "$tmp/$4.svg")" = 2 ] ||
        fail "$4.svg: 2 panels"
    grep -q ">after $1 (" "$tmp/$4.svg" || fail "$4.svg: after title"
    # left: the input; right: the calibrated probabilities as eval sees
    # them after calib apply (binary: the column of p)
    check_against_eval "$tmp/$4.svg" before --logits "$2" --labels "$3"
    rc=$?; [ $rc -eq 0 ] && compared=$((compared + 1))
    [ $rc -eq 1 ] && fail "$4 before"
    "$CALIB" apply "$tmp/$4.json" --logits "$2" -o "$tmp/$4.npy" \
        >/dev/null 2>"$tmp/err" ||
        { fail "calib apply $1: $(head -n 1 "$tmp/err")"; return; }
    if [ "$5" = binary ]; then
        "$PY" - "$tmp/$4.npy" "$tmp/$4_p.csv" "$tmp/bin.csv" <<'PYEOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<H", b[8:10])[0]
v = struct.unpack("<%dd" % ((len(b) - 10 - n) // 8), b[10 + n:])
with open(sys.argv[2], "w") as f:
    f.write("label,p\n")
    for line, p in zip(open(sys.argv[3]), v[1::2]):
        f.write("%s,%r\n" % (line.split(",")[0], p))
PYEOF
        check_against_eval "$tmp/$4.svg" after --probs "$tmp/$4_p.csv"
    else
        check_against_eval "$tmp/$4.svg" after --probs "$tmp/$4.npy" \
            --labels "$3"
    fi
    rc=$?; [ $rc -eq 0 ] && compared=$((compared + 1))
    [ $rc -eq 1 ] && fail "$4 after"
}
pair temperature "$tmp/val.npy" "$tmp/val_y.npy" temp
pair isotonic "$tmp/val.npy" "$tmp/val_y.npy" iso
pair platt "$tmp/bin.npy" "$tmp/bin_y.npy" platt binary

printf '{"format": "calib-model", "version": 1' > "$tmp/bad.json"
"$CALIB" plot --logits "$tmp/val.csv" --model "$tmp/bad.json" \
    -o "$tmp/x.svg" 2>/dev/null
rc=$?; [ $rc -eq 7 ] || [ $rc -eq 4 ] || fail "truncated model: exit $rc"
[ -e "$tmp/x.svg" ] && fail "x.svg written despite the bad model"
if [ -f "$tmp/temp.json" ]; then # 3 classes against one score column
    "$CALIB" plot --logits "$tmp/bin.npy" --labels "$tmp/bin_y.npy" \
        --model "$tmp/temp.json" -o "$tmp/x.svg" 2>"$tmp/err"
    rc=$?; [ $rc -eq 7 ] || fail "K mismatch: exit $rc, want 7"
    [ -e "$tmp/x.svg" ] && fail "x.svg written despite the K mismatch"
fi

# --- usage and failures -----------------------------------------------
"$CALIB" plot --logits "$tmp/val.csv" 2>/dev/null
[ $? -eq 2 ] || fail "missing -o: want exit 2"
"$CALIB" plot --logits "$tmp/val.csv" --bogus -o "$tmp/x.svg" 2>/dev/null
[ $? -eq 2 ] || fail "unknown flag: want exit 2"
"$CALIB" plot --toplabel "$tmp/val.csv" --model "$tmp/bad.json" \
    -o "$tmp/x.svg" 2>/dev/null
[ $? -eq 2 ] || fail "--toplabel with --model: want exit 2"
"$CALIB" plot --logits "$tmp/none.npy" --labels "$tmp/none.npy" \
    -o "$tmp/x.svg" 2>"$tmp/err"
[ $? -eq 3 ] || fail "missing input: want exit 3"
[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "error is not one line"
"$CALIB" plot --logits "$tmp/val.csv" --bins 0 -o "$tmp/x.svg" 2>/dev/null
[ $? -eq 2 ] || fail "--bins 0: want exit 2"
"$CALIB" plot --logits "$tmp/val.csv" -o "$tmp/no/such/dir.svg" 2>/dev/null
[ $? -eq 8 ] || fail "unwritable output: want exit 8"
cp "$tmp/a.svg" "$tmp/keep.svg"
printf 'label,z0\n1,abc\n' > "$tmp/broken.csv"
"$CALIB" plot --logits "$tmp/broken.csv" -o "$tmp/keep.svg" 2>/dev/null
[ $? -eq 4 ] || fail "malformed CSV: want exit 4"
cmp -s "$tmp/a.svg" "$tmp/keep.svg" || fail "a failed run changed keep.svg"
"$CALIB" plot --logits "$tmp/val.csv" -o - | xmllint --noout - ||
    fail "-o - is not XML"
"$CALIB" help plot | grep -q -- '--model' || fail "help lacks --model"

[ $compared -ge 9 ] || fail "only $compared diagrams compared"
[ $status -ne 0 ] && exit 1
echo "plot_cli: ok ($compared diagrams compared with calib eval)"
exit 0
