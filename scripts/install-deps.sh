#!/bin/sh
# Installs the Debian packages calib needs, if any is missing.
#   scripts/install-deps.sh build   compiler, zlib, jansson (JSON),
#                                   liblbfgs (L-BFGS), pkg-config
#   scripts/install-deps.sh demo    build + dataset-fashion-mnist
#   scripts/install-deps.sh check   demo + chromium (renders the HTML
#                                   report), libxml2-utils (xmllint),
#                                   python3 (Debian's, for XML and PNG
#                                   checks in tests/cli)
#   scripts/install-deps.sh full    check + python3-numpy, python3-scipy,
#                                   python3-sklearn, python3-torch (the
#                                   references of tests/golden, and the
#                                   peers of `make bench`)
set -e
build="gcc make pkg-config zlib1g-dev libjansson-dev liblbfgs-dev"
demo="$build dataset-fashion-mnist"
check="$demo chromium libxml2-utils python3"
full="$check python3-numpy python3-scipy python3-sklearn python3-torch"
case "${1:-check}" in
    build) pkgs=$build ;;
    demo) pkgs=$demo ;;
    check) pkgs=$check ;;
    full) pkgs=$full ;;
    *) echo "install-deps: unknown set '$1' (build, demo, check, full)" >&2
       exit 2 ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "install-deps: run as root or install sudo; missing:$missing" >&2
        exit 1
    }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
