#!/usr/bin/env bash
# The web dashboard's browser libraries, from the npm lockfile
# api/prazium_api/web/package-lock.json: `npm ci` in the user cache (never in the
# checkout, so no node_modules lands in the package or the image), then the built
# files the pages load are copied into api/prazium_api/web/static/vendor/
# (git-ignored) and axe-core, for the browser tests only, into .dev/web-test/.
# Idempotent: a stamp of the lockfile and this script skips the work next time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WEB=$PRAZIUM_ROOT/api/prazium_api/web
VENDOR=$WEB/static/vendor
TEST_ASSETS=$PRAZIUM_ROOT/.dev/web-test
key=$(cat "$WEB/package.json" "$WEB/package-lock.json" "$0" | sha256sum | cut -c1-16)
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
rm -rf "$VENDOR"; mkdir -p "$VENDOR/licenses" "$TEST_ASSETS"
cp "$M/@dagrejs/dagre/dist/dagre.min.js" "$VENDOR/dagre.min.js"
cp "$M/markdown-it/dist/browser/markdown-it.umd.min.js" "$VENDOR/markdown-it.min.js"
cp "$M/@highlightjs/cdn-assets/highlight.min.js" "$VENDOR/highlight.min.js"
cp "$M/@highlightjs/cdn-assets/styles/github.min.css" "$VENDOR/highlight-github.min.css"
cp "$M/swagger-ui-dist/swagger-ui-bundle.js" "$M/swagger-ui-dist/swagger-ui.css" "$VENDOR/"
cp "$M/redoc/bundles/redoc.standalone.js" "$VENDOR/"
for package in @dagrejs/dagre markdown-it @highlightjs/cdn-assets swagger-ui-dist redoc; do
  cp "$M/$package/LICENSE" "$VENDOR/licenses/$(basename "$package").LICENSE" 2>/dev/null || true
done
cp "$M/axe-core/axe.min.js" "$TEST_ASSETS/axe.min.js"
echo "$key" >"$VENDOR/.stamp"
say "web dashboard assets ready in ${VENDOR#"$PRAZIUM_ROOT"/}"
