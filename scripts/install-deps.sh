#!/bin/sh
# Installs the Debian packages calib needs, if any is missing.
#   build:   zlib, jansson (JSON), liblbfgs (L-BFGS), pkg-config
#   demo:    dataset-fashion-mnist (the training data of the demo)
#   tests:   chromium (renders the HTML report), libxml2-utils (xmllint)
# The reference values in tests/golden were made with python3-numpy,
# python3-scipy, python3-sklearn and python3-torch; the bench compares
# with them. Set CALIB_DEPS=full to install those too.
set -e
pkgs="gcc make pkg-config zlib1g-dev libjansson-dev liblbfgs-dev \
dataset-fashion-mnist chromium libxml2-utils"
if [ "${CALIB_DEPS:-}" = full ]; then
    pkgs="$pkgs python3-numpy python3-scipy python3-sklearn python3-torch"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
