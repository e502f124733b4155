#!/bin/sh
# The HTML report (written by tests/test_report on synthetic metrics, and
# by `calib run --report` when run and the shared data are there): it
# parses as HTML and as XML, holds MathML, no script and no remote
# resource, and headless Chromium renders it to a screenshot that is not
# blank. Skips when chromium is not installed.
B=${CALIB_BUILD:-build}
PY=/usr/bin/python3
DIR=$(cd "$(dirname "$0")" && pwd)
if ! command -v chromium >/dev/null 2>&1; then
    echo "SKIP: chromium not installed (Debian package chromium)"
    exit 77
fi
if ! command -v xmllint >/dev/null 2>&1 || [ ! -x "$PY" ]; then
    echo "SKIP: xmllint (libxml2-utils) or /usr/bin/python3 missing"
    exit 77
fi
if [ ! -x "$B/tests/test_report" ]; then
    echo "SKIP: $B/tests/test_report not built"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

"$B/tests/test_report" "$tmp/report.html" >/dev/null ||
    fail "test_report could not write the report"
reports="$tmp/report.html"

# A real report too, when `calib run --report` and the data exist.
data=../shared/data/cifar10-resnet50-ce
if [ -n "$CALIB" ] && [ -f "$data/val_logits.npy" ] &&
    "$CALIB" help run 2>/dev/null | grep -q -- --report; then
    if "$CALIB" run --val-logits "$data/val_logits.npy" \
        --val-labels "$data/val_labels.npy" \
        --test-logits "$data/test_logits.npy" \
        --test-labels "$data/test_labels.npy" --methods all \
        --out "$tmp/run" --report "$tmp/run.html" >/dev/null 2>"$tmp/err"
    then
        reports="$reports $tmp/run.html"
    else
        fail "calib run --report: $(head -n 1 "$tmp/err")"
    fi
fi

for r in $reports; do
    name=$(basename "$r")
    [ -s "$r" ] || { fail "$name is empty"; continue; }
    # HTML4 parser of libxml2: only unknown HTML5 tags are allowed
    xmllint --html --noout "$r" 2>"$tmp/html.err"
    if grep -E 'error|warning' "$tmp/html.err" |
        grep -v -E 'Tag [A-Za-z]+ invalid' | grep -q .; then
        fail "$name: HTML parse errors:"
        grep -E 'error|warning' "$tmp/html.err" |
            grep -v -E 'Tag [A-Za-z]+ invalid' | head -n 5
    fi
    # our own markup is well-formed XML as well
    xmllint --noout "$r" 2>"$tmp/xml.err" ||
        { fail "$name is not well-formed XML"; head -n 5 "$tmp/xml.err"; }
    grep -q '<math ' "$r" || fail "$name: no MathML"
    grep -qi '<script' "$r" && fail "$name: has a script"
    grep -qi -E '(src|href)="?https?:' "$r" && fail "$name: remote resource"
    grep -qi -E 'url\(["'"'"']?https?:|@import' "$r" &&
        fail "$name: remote CSS resource"
    grep -q '<th scope="col">' "$r" || fail "$name: no table header scope"

    # render: a 1280 x 2000 screenshot with ink, several grey levels
    png="$tmp/$name.png"
    timeout 120 chromium --headless --no-sandbox --disable-gpu \
        --disable-quic --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync \
        --user-data-dir="$tmp/profile" --screenshot="$png" \
        --window-size=1280,2000 "file://$r" >/dev/null 2>&1
    [ -s "$png" ] || { fail "$name: chromium wrote no screenshot"; continue; }
    set -- $("$PY" "$DIR/png_ink.py" "$png")
    if [ "$1" != 1280 ] || [ "$2" != 2000 ]; then
        fail "$name: screenshot is $1 x $2"
    elif [ "$3" -lt 100000 ] || [ "$4" -lt 8 ]; then
        fail "$name: screenshot looks blank ($3 ink pixels, $4 grey levels)"
    else
        echo "$name: $3 ink pixels, $4 grey levels"
    fi
    [ -n "$CALIB_KEEP_SCREENSHOTS" ] && cp "$png" "$CALIB_KEEP_SCREENSHOTS/"
done
[ $status -eq 0 ] && echo "plot_report: ok"
exit $status
