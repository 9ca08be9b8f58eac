#!/usr/bin/env bash
# The web dashboard's browser libraries, from the npm lockfile
# api/prazium_api/web/package-lock.json: `npm ci` in the user cache (never in the
# checkout, so no node_modules lands in the package or the image), then the built
# files the pages load are copied into api/prazium_api/web/static/vendor/
# (git-ignored) by scripts/web-vendor.sh, which images/Dockerfile's web stage runs
# too, and axe-core, for the browser tests only, into .dev/web-test/.
# Idempotent: a stamp of the lockfile and these scripts skips the work next time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WEB=$PRAZIUM_ROOT/api/prazium_api/web
VENDOR=$WEB/static/vendor
TEST_ASSETS=$PRAZIUM_ROOT/.dev/web-test
key=$(cat "$WEB/package.json" "$WEB/package-lock.json" "$0" "$(dirname "$0")/web-vendor.sh" | sha256sum | cut -c1-16)
if [ "$(cat "$VENDOR/.stamp" 2>/dev/null)" = "$key" ] && [ -f "$TEST_ASSETS/axe.min.js" ]; then
  exit 0
fi
command -v npm >/dev/null || die "npm is required for the web dashboard's assets (apt-get install npm)"

NPM_DIR=$CACHE_DIR/web-npm/$key
if [ ! -f "$NPM_DIR/.complete" ]; then
  say "installing the web dashboard's libraries (npm ci, package-lock.json)"
  mkdir -p "$(dirname "$NPM_DIR")"
  tmp=$(mktemp -d "$NPM_DIR.XXXXXX")
  cp "$WEB/package.json" "$WEB/package-lock.json" "$tmp/"
  # --ignore-scripts: only prebuilt files are used; no package runs code here.
  (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2) \
    || { rm -rf "$tmp"; die "npm ci failed"; }
  touch "$tmp/.complete"
  rm -rf "$NPM_DIR"; mv -T "$tmp" "$NPM_DIR"
fi

M=$NPM_DIR/node_modules
"$PRAZIUM_ROOT/scripts/web-vendor.sh" "$M" "$VENDOR"
mkdir -p "$TEST_ASSETS"
cp "$M/axe-core/axe.min.js" "$TEST_ASSETS/axe.min.js"
echo "$key" >"$VENDOR/.stamp"
say "web dashboard assets ready in ${VENDOR#"$PRAZIUM_ROOT"/}"
