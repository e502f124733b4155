#!/bin/sh
# Runs every test: the C test programs in BUILD/tests and the shell tests
# in tests/cli. Exit 0 passed, 77 skipped (and why), anything else failed.
# Prints one line per test and "N passed, N failed, N skipped" at the end.
B=${1:-build}
export CALIB="$PWD/$B/calib"
export CALIB_BUILD="$PWD/$B"
passed=0; failed=0; skipped=0; failed_names=""
log=$(mktemp -d)
for t in "$B"/tests/test_* tests/cli/*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t")
    case "$t" in
        *.sh) sh "$t" > "$log/$name.out" 2>&1 ;;
        *) "$t" > "$log/$name.out" 2>&1 ;;
    esac
    rc=$?
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1)); echo "PASS $name"
    elif [ $rc -eq 77 ]; then
        skipped=$((skipped + 1))
        echo "SKIP $name: $(grep -m1 -i 'skip' "$log/$name.out")"
    else
        failed=$((failed + 1)); failed_names="$failed_names $name"
        echo "FAIL $name (exit $rc)"
        sed 's/^/    /' "$log/$name.out" | tail -n 40
    fi
done
rm -rf "$log"
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
