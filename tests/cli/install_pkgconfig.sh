#!/bin/sh
# make install PREFIX=DIR puts the header, the libraries, the CLI and a
# pkg-config file there; a C program then builds against it with
# pkg-config alone, and runs.
set -u
command -v pkg-config >/dev/null || { echo "SKIP: pkg-config not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$(pwd)
fail=0

make -s -C "$root" B="$tmp/build" PREFIX="$tmp/prefix" install \
    > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
for f in include/calib.h lib/libcalib.a lib/libcalib.so.0 lib/libcalib.so \
         lib/pkgconfig/calib.pc bin/calib; do
    [ -e "$tmp/prefix/$f" ] || { echo "FAIL: $f not installed"; fail=1; }
done

export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
[ "$(pkg-config --modversion calib)" = "$("$tmp/prefix/bin/calib" --version | cut -d' ' -f2)" ] ||
    { echo "FAIL: pkg-config version differs from calib --version"; fail=1; }

# static link: the archive, plus the private libraries pkg-config names
libdir=$(pkg-config --variable=libdir calib)
cc -o "$tmp/evaluate" "$root/examples/evaluate.c" $(pkg-config --cflags calib) \
    "$libdir/libcalib.a" $(pkg-config --libs --static calib | sed 's/-lcalib//') \
    2> "$tmp/cc.log" ||
    { echo "FAIL: build against installed calib"; cat "$tmp/cc.log"; fail=1; }
# shared link, run with the installed libcalib.so.0
cc -o "$tmp/evaluate_so" "$root/examples/evaluate.c" \
    $(pkg-config --cflags --libs calib) 2> "$tmp/cc2.log" ||
    { echo "FAIL: shared build"; cat "$tmp/cc2.log"; fail=1; }

D="$root/../shared/data/cifar10-resnet50-ce"
if [ -d "$D" ] && [ $fail -eq 0 ]; then
    a=$("$tmp/evaluate" "$D/val_logits.npy" "$D/val_labels.npy" \
        "$D/test_logits.npy" "$D/test_labels.npy") || fail=1
    b=$(LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/evaluate_so" \
        "$D/val_logits.npy" "$D/val_labels.npy" \
        "$D/test_logits.npy" "$D/test_labels.npy") || fail=1
    [ "$a" = "$b" ] || { echo "FAIL: static and shared builds differ"; fail=1; }
    echo "$a" | grep -q '^temperature 2\.49' ||
        { echo "FAIL: unexpected temperature: $a"; fail=1; }
else
    echo "note: ../shared/data not found; installed program built, not run"
fi
[ $fail -eq 0 ] && echo "install: ok"
exit $fail
