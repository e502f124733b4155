#!/bin/sh
# Usage errors of every command: exit 2 and exactly one line on stderr,
# nothing on stdout; help and --version on stdout with exit 0.
[ -x "${CALIB:-}" ] || { echo "SKIP: \$CALIB not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

usage_error() {
    "$CALIB" "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    lines=$(wc -l < "$tmp/err")
    if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || [ -s "$tmp/out" ]; then
        echo "FAIL: calib $*: exit $rc, $lines stderr lines:"
        sed 's/^/    /' "$tmp/err"
        fail=1
    fi
}

usage_error
usage_error frobnicate
usage_error help frobnicate
for flag in --bins --bins= --smoothing --threads --format --labels \
            --label-col --bin-rule --scheme; do
    usage_error eval "$flag"
done
usage_error eval --bins 0
usage_error eval --bins -3
usage_error eval --bin-rule middle
usage_error eval --format xml
usage_error eval --nonsense
usage_error eval
for flag in --title --title= --bins -o --model; do usage_error plot "$flag"; done
for flag in --gamma --gamma= --logits --loss --lambda; do usage_error loss "$flag"; done
usage_error loss --logits a.npy --labels b.npy --loss hinge
for flag in --format --bins --method --l2 --threads; do usage_error fit "$flag"; done
usage_error fit --method nonsense --logits a.npy --labels b.npy -o m.json
for flag in --format --l2 --methods --out --report-extra; do usage_error run "$flag"; done
usage_error apply
usage_error apply m.json --logits
# an explicitly empty value is the same as none
usage_error fit --method temperature --logits a.npy --labels b.npy -o ''
usage_error fit --method '' --logits a.npy --labels b.npy -o m.json
usage_error run --methods ''
usage_error eval --logits ''
usage_error apply m.json --logits a.npy -o ''

# help and version: stdout, exit 0
for c in eval fit apply run loss plot; do
    "$CALIB" help "$c" > "$tmp/out" 2> "$tmp/err" && [ -s "$tmp/out" ] &&
        [ ! -s "$tmp/err" ] || { echo "FAIL: calib help $c"; fail=1; }
    "$CALIB" "$c" --help > "$tmp/out2" 2>&1 && cmp -s "$tmp/out" "$tmp/out2" ||
        { echo "FAIL: calib $c --help differs from calib help $c"; fail=1; }
done
"$CALIB" --version | grep -Eq '^calib [0-9]+\.[0-9]+\.[0-9]+$' ||
    { echo "FAIL: calib --version"; fail=1; }

[ $fail -eq 0 ] && echo "cli_usage: ok"
exit $fail
