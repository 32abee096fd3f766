#!/usr/bin/env bash
# Builds the pinned Fabric commands with this project's patches applied.
#
#   network/fabricbin/build.sh OUT_DIR CMD...    e.g. build.sh bin/fabric peer orderer
#
# Fabric's module (the version pinned in go.mod, checked against go.sum) is
# copied from the module cache to OUT_DIR/.src/fabric, every patches/*.patch is
# applied to it with no fuzz (a patch that does not apply exactly stops the
# build), and the commands are built from a copy of go.mod that replaces the
# module with the patched copy. patches/SmartBFT/*.patch are applied the same
# way to a copy of the SmartBFT module (the version Fabric requires, checked
# against go.sum), which the build uses in its place. Fabric's sample core.yaml
# and orderer.yaml are copied to OUT_DIR/config. docs/ledger.md says what each
# patch does.
set -euo pipefail

if (($# < 2)); then
  echo "usage: $0 OUT_DIR CMD..." >&2
  exit 2
fi
out=$(realpath -m "$1")
shift
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
GO=${GO:-go}
mod=github.com/hyperledger/fabric

command -v patch >/dev/null 2>&1 || { echo "fabricbin: the patch command is missing: apt-get install patch" >&2; exit 1; }
"$GO" mod download "$mod"
src=$("$GO" list -m -f '{{.Dir}}' "$mod")

work="$out/.src"
rm -rf "$work"
mkdir -p "$work"
cp go.mod go.sum "$work/"

# patch_module MODULE DIR PATCH...: copies MODULE from the module cache to
# $work/DIR, applies the patches with no fuzz, and replaces MODULE with the
# copy in $work/go.mod.
patch_module() {
  local m=$1 dir=$2
  shift 2
  "$GO" mod download "$m"
  local v d
  v=$("$GO" list -m -f '{{.Version}}' "$m")
  d=$("$GO" list -m -f '{{.Dir}}' "$m")
  cp -R "$d" "$work/$dir"
  chmod -R u+w "$work/$dir"
  local p
  for p in "$@"; do
    [[ -e $p ]] || continue
    if ! patch -p1 --fuzz=0 --forward --batch --no-backup-if-mismatch --quiet -d "$work/$dir" <"$p"; then
      echo "fabricbin: $p does not apply to $m@$v: update the patch for the version pinned in go.mod, or remove it" >&2
      exit 1
    fi
    echo "fabricbin: applied $p to $m@$v"
  done
  echo "replace $m => $work/$dir" >>"$work/go.mod"
}

patch_module "$mod" fabric patches/*.patch
smartbft=(patches/SmartBFT/*.patch)
if [[ -e ${smartbft[0]} ]]; then
  patch_module github.com/hyperledger-labs/SmartBFT SmartBFT "${smartbft[@]}"
fi
pkgs=()
for c in "$@"; do pkgs+=("$mod/cmd/$c"); done
"$GO" build -modfile="$work/go.mod" -o "$out/" "${pkgs[@]}"

mkdir -p "$out/config"
cp "$src/sampleconfig/core.yaml" "$src/sampleconfig/orderer.yaml" "$out/config/"
chmod u+w "$out/config/"*
