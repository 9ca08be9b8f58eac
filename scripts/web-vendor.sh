#!/bin/sh
# web-vendor.sh NODE_MODULES VENDOR: copy the built files the web dashboard's pages load
# (and their licences) from an `npm ci` of api/prazium_api/web/package-lock.json into
# VENDOR (static/vendor). One list for both users: scripts/web-assets.sh (a checkout)
# and images/Dockerfile's web stage (an image built from a clean clone). POSIX sh: the
# Dockerfile's node image runs it.
set -eu
M=${1:?node_modules directory}
VENDOR=${2:?vendor directory}
rm -rf "$VENDOR"
mkdir -p "$VENDOR/licenses"
cp "$M/@dagrejs/dagre/dist/dagre.min.js" "$VENDOR/dagre.min.js"
cp "$M/markdown-it/dist/browser/markdown-it.umd.min.js" "$VENDOR/markdown-it.min.js"
cp "$M/@highlightjs/cdn-assets/highlight.min.js" "$VENDOR/highlight.min.js"
cp "$M/@highlightjs/cdn-assets/styles/github.min.css" "$VENDOR/highlight-github.min.css"
cp "$M/swagger-ui-dist/swagger-ui-bundle.js" "$M/swagger-ui-dist/swagger-ui.css" "$VENDOR/"
cp "$M/redoc/bundles/redoc.standalone.js" "$VENDOR/"
for package in @dagrejs/dagre markdown-it @highlightjs/cdn-assets swagger-ui-dist redoc; do
  cp "$M/$package/LICENSE" "$VENDOR/licenses/$(basename "$package").LICENSE" 2>/dev/null || true
done
