#!/bin/sh
# Build the frozen collector and its Linux packages (what `make package` runs).
#
#   deploy/packaging/build.sh            freeze + .deb + .rpm into build/package/
#   deploy/packaging/build.sh freeze     only the frozen collector (build/package/dist/)
#   deploy/packaging/build.sh pkg [VERSION] [OUTDIR]
#                                        only the packages, from the frozen collector already
#                                        built (the tests build an "upgrade" this way)
#
# DESKPULSE_PKG_BUILD (default build/package) is where everything is built.
# PY (default .venv/bin/python) must have PyInstaller (pip install -e '.[package]').
# nfpm (the packager, a Go program) is built once with `go install` into
# $DESKPULSE_TOOLS (default ~/.cache/deskpulse-tools) unless NFPM names one.
set -eu
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
TOOLS=${DESKPULSE_TOOLS:-$HOME/.cache/deskpulse-tools}
NFPM_VERSION=v2.45.2
NFPM=${NFPM:-$TOOLS/nfpm}
BUILD=${DESKPULSE_PKG_BUILD:-build/package}
VERSION_DEFAULT=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)

freeze() {
  start=$(date +%s)
  PYTHONPATH=$PWD "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$BUILD/dist" --workpath "$BUILD/work" deploy/packaging/deskpulse-collector.spec
  end=$(date +%s)
  echo "frozen collector: $BUILD/dist/deskpulse-collector," \
    "$(du -sm "$BUILD/dist/deskpulse-collector" | cut -f1) MB, built in $((end - start)) s"
}

scripts() {
  mkdir -p "$BUILD/scripts"
  for name in postinst prerm postrm; do
    awk -v common=deploy/packaging/scripts/common.sh \
      '$0 == "#@common@" { while ((getline line < common) > 0) print line; next } { print }' \
      "deploy/packaging/scripts/$name" > "$BUILD/scripts/$name"
    chmod 0755 "$BUILD/scripts/$name"
  done
}

nfpm() {
  if [ ! -x "$NFPM" ]; then
    mkdir -p "$TOOLS"
    GOBIN=$(cd "$TOOLS" && pwd) go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
  fi
  "$NFPM" "$@"
}

pkg() {
  version=${1:-$VERSION_DEFAULT}
  out=${2:-$BUILD}
  [ -x "$BUILD/dist/deskpulse-collector/deskpulse-collector" ] || {
    echo "build.sh: no frozen collector in $BUILD/dist; run build.sh freeze first" >&2; exit 2; }
  scripts
  mkdir -p "$out"
  sed "s|__BUILD__|$BUILD|g" deploy/packaging/nfpm.yaml > "$BUILD/nfpm.yaml"
  for packager in deb rpm; do
    DESKPULSE_PKG_VERSION=$version nfpm package --config "$BUILD/nfpm.yaml" \
      --packager "$packager" --target "$out/" >/dev/null
  done
  ls -l "$out"/deskpulse-collector*"$version"*.deb "$out"/deskpulse-collector*"$version"*.rpm \
    | awk '{ printf "package: %s, %.1f MB\n", $NF, $5 / 1048576 }'
}

case "${1:-all}" in
  freeze) freeze ;;
  pkg) shift; pkg "$@" ;;
  all) freeze; pkg ;;
  *) echo "usage: build.sh [freeze | pkg [VERSION] [OUTDIR] | all]" >&2; exit 2 ;;
esac
