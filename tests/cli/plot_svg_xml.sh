#!/bin/sh
# The reliability diagrams of tests/test_svg.c (single, pair, binary,
# escaped title with control bytes and invalid UTF-8) parse as XML and are
# SVG documents with a viewBox.
B=${CALIB_BUILD:-build}
if ! command -v xmllint >/dev/null 2>&1; then
    echo "SKIP: xmllint not installed (Debian package libxml2-utils)"
    exit 77
fi
if [ ! -x "$B/tests/test_svg" ]; then
    echo "SKIP: $B/tests/test_svg not built"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
"$B/tests/test_svg" "$tmp" >/dev/null || { echo "FAIL: test_svg"; exit 1; }
n=0
for f in "$tmp"/*.svg; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    if ! xmllint --noout "$f"; then
        echo "FAIL: $(basename "$f") is not well-formed XML"
        status=1
    fi
    root=$(xmllint --xpath 'name(/*)' "$f" 2>/dev/null)
    [ "$root" = svg ] || { echo "FAIL: $(basename "$f"): root is '$root'"; status=1; }
    vb=$(xmllint --xpath 'string(/*/@viewBox)' "$f" 2>/dev/null)
    [ -n "$vb" ] || { echo "FAIL: $(basename "$f"): no viewBox"; status=1; }
    # no text smaller than 12 px at the natural size
    small=$(xmllint --xpath "count(//*[local-name()='text'][@font-size < 12])" \
        "$f" 2>/dev/null)
    [ "$small" = 0 ] || { echo "FAIL: $(basename "$f"): $small small texts"; status=1; }
done
[ "$n" -ge 4 ] || { echo "FAIL: expected 4 SVG files, got $n"; status=1; }
[ $status -eq 0 ] && echo "plot_svg_xml: $n diagrams well-formed"
exit $status
