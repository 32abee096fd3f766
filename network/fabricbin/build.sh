#!/usr/bin/env bash
# Builds the pinned Fabric commands with this project's patches applied.
#
#   network/fabricbin/build.sh OUT_DIR CMD...               build, e.g. build.sh bin/fabric peer orderer
#   network/fabricbin/build.sh --if-changed OUT_DIR CMD...  build only if OUT_DIR is not up to date (make fabric-bin)
#   network/fabricbin/build.sh --digest                     print the inputs' digest
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
#
# The inputs' digest is the list of the files the build reads from this folder
# (build.sh, go.mod, go.sum, patches/*.patch, patches/SmartBFT/*.patch), sorted,
# each with its SHA-256, paths relative to this folder: it depends on their
# content alone, not on their mtimes nor on where the checkout is. A build
# removes OUT_DIR/.built first and writes the digest of the inputs it started
# from into it when it has succeeded. --if-changed builds when that stamp's
# digest differs from the inputs' (saying which files differ), or a command,
# the sample config or the patched source is missing; otherwise it prints
# nothing. A stamp with no digest, from before digests (an empty file), is
# adopted (the digest written into it, no build) if every command is there and
# the stamp is newer than go.mod, go.sum and the patches (files and folders),
# which is when the mtime rule used before would not have rebuilt either; the
# version of build.sh that brought digests builds what the one before built,
# so its own mtime is left out. Otherwise the binaries are rebuilt.
#
# OUT_DIR must not be a symlink: building through one would replace the
# binaries of the folder it points to, perhaps another checkout's built from
# other patches. Binaries behind a symlink are used while they are up to date;
# when they are not, the script refuses and says what to do.
set -euo pipefail
shopt -s nullglob

usage() {
  echo "usage: $0 [--if-changed] OUT_DIR CMD... | $0 --digest" >&2
  exit 2
}
caller=$PWD
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
fabric_patches=(patches/*.patch)
smartbft_patches=(patches/SmartBFT/*.patch)
stamp_header='votechain fabricbin stamp 1: the SHA-256 of each input of the build of this folder (network/fabricbin/build.sh --digest)'

# digest prints the inputs' digest: a sha256sum line per input, sorted by path.
digest() {
  local files
  mapfile -t files < <(printf '%s\n' build.sh go.mod go.sum "${fabric_patches[@]}" "${smartbft_patches[@]}" | LC_ALL=C sort)
  sha256sum -- "${files[@]}"
}

# stale OUT_DIR CMD...: prints why OUT_DIR must be (re)built, nothing if it is
# up to date. Adopts a stamp with no digest as the header describes.
stale() {
  local dir=$1 f
  shift
  for f in "$@" config/core.yaml config/orderer.yaml; do
    [[ -f $dir/$f ]] || { echo "$dir/$f is missing"; return; }
  done
  [[ -d $dir/.src/fabric ]] || { echo "the patched source $dir/.src/fabric is missing"; return; }
  local stamp=$dir/.built
  [[ -f $stamp ]] || { echo "$stamp is missing (no build finished there)"; return; }
  local first
  IFS= read -r first <"$stamp" || true
  if [[ $first != "$stamp_header" ]]; then
    local newer
    local old=(go.mod go.sum patches "${fabric_patches[@]}" "${smartbft_patches[@]}")
    [[ ! -d patches/SmartBFT ]] || old+=(patches/SmartBFT)
    newer=$(find "${old[@]}" -maxdepth 0 -newer "$stamp" | LC_ALL=C sort | tr '\n' ' ')
    if [[ -n $newer ]]; then
      echo "$stamp holds no digest and is older than ${newer% }"
      return
    fi
    if [[ -L $dir ]]; then
      echo "$stamp holds no digest (the binaries are not adopted through a symlink)"
      return
    fi
    { echo "$stamp_header"; digest; } >"$stamp.tmp" && mv "$stamp.tmp" "$stamp"
    echo "fabricbin: adopted the binaries in $dir, built before stamps held a digest (their stamp is newer than go.mod, go.sum and the patches): wrote the inputs' digest into $stamp; remove it to rebuild" >&2
    return
  fi
  local changed
  changed=$(diff <(tail -n +2 "$stamp") <(digest) | sed -n 's/^[<>] [0-9a-f]*  //p' | LC_ALL=C sort -u | tr '\n' ' ') || true
  [[ -z $changed ]] || echo "network/fabricbin changed since its last build: ${changed% }"
}

case ${1:-} in
--digest)
  (($# == 1)) || usage
  digest
  exit
  ;;
--if-changed) if_changed=1 && shift ;;
*) if_changed= ;;
esac
(($# >= 2)) || usage
shown=${1%/}
# out is OUT_DIR made absolute without resolving symlinks, so that a symlink
# can be seen.
out=$1
[[ $out == /* ]] || out=$caller/$out
out=$(realpath -ms "$out")
shift

why=$(stale "$out" "$@")
if [[ -n $if_changed && -z $why ]]; then
  exit 0
fi
[[ -n $why ]] || why="asked to build (without --if-changed)"
if [[ -L $out ]]; then
  cat >&2 <<MSG
fabricbin: $shown needs a build ($why), but it is a symlink to $(readlink -f "$out"):
  refusing to build through it, which would replace the binaries of the folder it points to,
  perhaps another checkout's built from other patches. Remove the link and run make fabric-bin
  again to build this checkout's own (a few minutes), or build the folder itself with
  make fabric-bin FABRIC_BIN=$(readlink -f "$out") if it is yours to rebuild.
MSG
  exit 1
fi
echo "fabricbin: building Fabric ($*) into $shown: $why; the first build takes a few minutes"

GO=${GO:-go}
mod=github.com/hyperledger/fabric

command -v patch >/dev/null 2>&1 || { echo "fabricbin: the patch command is missing: apt-get install patch" >&2; exit 1; }
inputs=$(digest)
mkdir -p "$out"
rm -f "$out/.built"
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
    if ! patch -p1 --fuzz=0 --forward --batch --no-backup-if-mismatch --quiet -d "$work/$dir" <"$p"; then
      echo "fabricbin: $p does not apply to $m@$v: update the patch for the version pinned in go.mod, or remove it" >&2
      exit 1
    fi
    echo "fabricbin: applied $p to $m@$v"
  done
  echo "replace $m => $work/$dir" >>"$work/go.mod"
}

patch_module "$mod" fabric "${fabric_patches[@]}"
if ((${#smartbft_patches[@]} > 0)); then
  patch_module github.com/hyperledger-labs/SmartBFT SmartBFT "${smartbft_patches[@]}"
fi
pkgs=()
for c in "$@"; do pkgs+=("$mod/cmd/$c"); done
"$GO" build -modfile="$work/go.mod" -o "$out/" "${pkgs[@]}"

mkdir -p "$out/config"
cp "$src/sampleconfig/core.yaml" "$src/sampleconfig/orderer.yaml" "$out/config/"
chmod u+w "$out/config/"*
{ echo "$stamp_header"; echo "$inputs"; } >"$out/.built.tmp"
mv "$out/.built.tmp" "$out/.built"
