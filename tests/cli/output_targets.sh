#!/bin/sh
# Output paths that are not plain files: a device or a FIFO is refused
# (exit 8, one line) and left as it was; a symbolic link is followed, so
# the file it points to is replaced and the link stays a link; a dangling
# link is refused.
[ -x "${CALIB:-}" ] || { echo "SKIP: \$CALIB not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
X=tests/fixtures/arch_stored.npz
fit() { "$CALIB" fit --method temperature --logits "$X:predictions" \
            --labels "$X:ground_truth" -o "$1" > /dev/null 2> "$tmp/err"; }

refused() {
    fit "$1"; rc=$?
    if [ $rc -ne 8 ] || [ "$(wc -l < "$tmp/err")" -ne 1 ]; then
        echo "FAIL: -o $1 ($2): exit $rc"; cat "$tmp/err"; fail=1
    fi
}

mkfifo "$tmp/fifo"
refused "$tmp/fifo" FIFO
[ -p "$tmp/fifo" ] || { echo "FAIL: the FIFO was replaced"; fail=1; }
if mknod "$tmp/null" c 1 3 2>/dev/null; then
    refused "$tmp/null" device
    [ -c "$tmp/null" ] || { echo "FAIL: the device was replaced"; fail=1; }
else
    echo "note: cannot create a device node here (not root); FIFO only"
fi
mkdir "$tmp/dir"
refused "$tmp/dir" directory

echo old > "$tmp/real.json"
ln -s real.json "$tmp/link.json"
fit "$tmp/link.json" || { echo "FAIL: -o through a symbolic link"; fail=1; }
[ -L "$tmp/link.json" ] || { echo "FAIL: the link was replaced"; fail=1; }
grep -q calib-model "$tmp/real.json" ||
    { echo "FAIL: the link's target was not written"; fail=1; }
ln -s "$tmp/missing/x.json" "$tmp/dangling.json"
refused "$tmp/dangling.json" "dangling link"
ls -a "$tmp" | grep -q '^\.[a-z].*\.......$' &&
    { echo "FAIL: a temporary file was left behind"; ls -a "$tmp"; fail=1; }
[ $fail -eq 0 ] && echo "output_targets: ok"
exit $fail
