#!/usr/bin/env bash
# The Prazium image from images/Dockerfile, built with buildah (no Docker daemon):
#   image.sh build          `make image`: build (or reuse) it from this checkout and write
#                           the OCI archive dist/prazium-image-TAG.oci.tar; prints its path
#   image.sh build-clone    the same from a fresh `git clone` of this checkout's HEAD in a
#                           temporary directory (what a clean clone builds; make helm-e2e)
#   image.sh push REGISTRY  `make image-push`: push it to REGISTRY/prazium:TAG
#   image.sh name           the image's name: localhost/prazium/prazium:TAG, the chart's default
# Environment:
#   IMAGE_TAG     the tag; default the chart's appVersion (charts/prazium/Chart.yaml)
#   IMAGE_BASES   debian (default): the Dockerfile's two base images are Debian bookworm root
#                 filesystems made here by mmdebstrap (Python 3.11; Node.js and npm), for
#                 machines that reach Debian's mirrors, PyPI and npm but no image registry;
#                 public: the Dockerfile's own defaults from Docker Hub (python:3.11-slim-bookworm,
#                 node:20-bookworm-slim). The Dockerfile's steps are the same either way.
#   TLS_VERIFY    push: false for a registry without TLS (a local one); default true
#   IMAGE_ARCHIVE push: this OCI archive (e.g. build-clone's) instead of make image's
# The build's downloads (apt, npm ci, pip with --require-hashes) go out from the build's
# steps; the machine's CA bundle is handed in as the build secret ca-certificates (for a
# TLS-intercepting proxy), never written into a layer. buildah's storage (overlay as root,
# else vfs) and the archives live in the user cache (~/.cache/prazium/image-build; delete it
# to reclaim the space); an archive is keyed by everything the Dockerfile reads, so an
# unchanged tree is not built twice, and a changed one reuses buildah's cached layers up
# to the first changed input (a code change: the requirements layer is reused).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CONTEXT=$PRAZIUM_ROOT
WORK=$CACHE_DIR/image-build
IMAGE_REPOSITORY=localhost/prazium/prazium
IMAGE_TAG=${IMAGE_TAG:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$PRAZIUM_ROOT/charts/prazium/Chart.yaml")}
IMAGE_BASES=${IMAGE_BASES:-debian}
[ -n "$IMAGE_TAG" ] || die "no image tag: set IMAGE_TAG (charts/prazium/Chart.yaml names no appVersion)"
case $IMAGE_BASES in debian|public) ;; *) die "IMAGE_BASES must be debian or public, not $IMAGE_BASES" ;; esac
IMAGE=$IMAGE_REPOSITORY:$IMAGE_TAG
# What images/Dockerfile copies from the context (tests/unit/test_image_inputs.py checks
# that this list and the Dockerfile's COPY lines name the same paths).
IMAGE_INPUTS=(images/Dockerfile .dockerignore requirements.lock pyproject.toml
  scripts/web-vendor.sh api/prazium_api/web/package.json api/prazium_api/web/package-lock.json
  kit operator api cli appgen/prazium_appgen crds)

digest() { sha256sum | cut -c1-12; }

buildah_cmd() {
  local driver=${PRAZIUM_BUILDAH_DRIVER:-}
  if [ -z "$driver" ]; then
    # overlay shares layers between steps; rootless overlay needs more than a cache dir.
    if [ "$(id -u)" = 0 ]; then driver=overlay; else driver=vfs; fi
  fi
  BUILDAH=(buildah --root "$WORK/storage-$driver" --runroot "$WORK/run-$driver" --storage-driver "$driver")
}

need_tools() {
  local missing=()
  command -v buildah >/dev/null || missing+=(buildah)
  [ "$IMAGE_BASES" = public ] || command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v git >/dev/null || missing+=(git)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})"
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- the Debian base images ------------------------------------------------------------
# debian_base NAME PACKAGES: a minbase bookworm root filesystem with PACKAGES (mmdebstrap
# from the machine's apt sources), committed into buildah's storage as
# localhost/prazium/build-NAME:KEY; prints that name. Keyed by its recipe.
DEBIAN_BASE_RECIPE=1
debian_base() {
  local name=$1 packages=$2 key image rootfs ctr
  key=$(echo "$DEBIAN_BASE_RECIPE $packages" | digest)
  image=localhost/prazium/build-$name:$key
  if ! "${BUILDAH[@]}" inspect --type image "$image" >/dev/null 2>&1; then
    rootfs=$WORK/rootfs-$name-$key.tar
    if [ ! -f "$rootfs" ]; then
      say "making a Debian bookworm root filesystem with $packages (mmdebstrap, a minute or two)"
      mmdebstrap --quiet --variant=minbase --include="$packages" \
        --aptopt='Acquire::Retries "3"' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$rootfs.part.tar" >&2 || die "mmdebstrap ($packages) failed"
      mv "$rootfs.part.tar" "$rootfs"
    fi
    ctr=$("${BUILDAH[@]}" from scratch)
    "${BUILDAH[@]}" add "$ctr" "$rootfs" / >/dev/null
    "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --cmd '["/bin/sh"]' "$ctr"
    "${BUILDAH[@]}" commit -q --rm "$ctr" "$image" >/dev/null
    rm -f "$rootfs"  # the committed image holds it now
  fi
  echo "$image"
}

base_args() {
  BASE_ARGS=()
  BASE_KEY=public
  [ "$IMAGE_BASES" = public ] && return 0
  local python node
  python=$(debian_base python python3,python3-venv)
  node=$(debian_base node nodejs,npm)
  BASE_ARGS=(--pull=never --build-arg "PYTHON_IMAGE=$python" --build-arg "NODE_IMAGE=$node")
  BASE_KEY="$python $node"
}

# --- the image ----------------------------------------------------------------------------
image_key() {
  (cd "$CONTEXT" && {
    printf '%s\n' "$IMAGE" "$BASE_KEY"
    find "${IMAGE_INPUTS[@]}" -type f -not -path '*/__pycache__/*' -not -name '*.pyc' \
      -not -path '*.egg-info*' -not -path '*/node_modules/*' \
      -not -path 'api/prazium_api/web/static/vendor/*' | LC_ALL=C sort | xargs sha256sum
  }) | digest
}

ca_bundle() {
  local bundle
  for bundle in "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
    [ -n "$bundle" ] && [ -s "$bundle" ] && { echo "$bundle"; return 0; }
  done
  return 1
}

build() {
  local key archive out bundle secret=() t0=$SECONDS
  need_tools
  buildah_cmd
  mkdir -p "$WORK/archives"
  base_args
  key=$(image_key)
  archive=$WORK/archives/prazium-$IMAGE_TAG-$key.oci.tar
  if [ ! -f "$archive" ]; then
    say "building $IMAGE from images/Dockerfile with buildah (bases: $IMAGE_BASES)"
    bundle=$(ca_bundle) && secret=(--secret "id=ca-certificates,src=$bundle")
    (cd "$CONTEXT" && "${BUILDAH[@]}" bud --layers --isolation chroot --format oci \
      "${BASE_ARGS[@]}" "${secret[@]}" -f images/Dockerfile -t "$IMAGE" . >&2) \
      || die "building the image failed"
    "${BUILDAH[@]}" push -q "$IMAGE" "oci-archive:$archive.part:$IMAGE" >&2 \
      || die "writing the OCI archive failed"
    mv "$archive.part" "$archive"
    # The archives of other trees are not needed again: keep this one and the newest two.
    find "$WORK/archives" -maxdepth 1 -name 'prazium-*.oci.tar' -printf '%T@ %p\n' \
      | sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f
    say "built $IMAGE in $((SECONDS - t0)) s ($(du -m "$archive" | cut -f1) MB archive)"
  fi
  out=$CONTEXT/dist/prazium-image-$IMAGE_TAG.oci.tar
  mkdir -p "$(dirname "$out")"
  ln -f "$archive" "$out.part" 2>/dev/null || cp "$archive" "$out.part"
  mv -f "$out.part" "$out"
  echo "$out"
}

# A fresh clone of HEAD (what a clean checkout holds: nothing git-ignored, no
# static/vendor/), built by its own scripts/image.sh with this cache.
build_clone() {
  local tmp archive out
  need_tools
  if [ -n "$(git -C "$PRAZIUM_ROOT" status --porcelain -- "${IMAGE_INPUTS[@]}" 2>/dev/null)" ]; then
    say "note: uncommitted changes to the image's inputs are not in the clone (it builds HEAD)"
  fi
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/prazium-clone.XXXXXX")
  trap 'rm -rf "${tmp:-}"' RETURN
  git clone -q --no-hardlinks "$PRAZIUM_ROOT" "$tmp/prazium" || die "git clone failed"
  archive=$(PRAZIUM_ROOT="$tmp/prazium" PRAZIUM_DEV_DIR="$tmp/dev" PRAZIUM_CACHE_DIR="$CACHE_DIR" \
    IMAGE_TAG="$IMAGE_TAG" IMAGE_BASES="$IMAGE_BASES" "$tmp/prazium/scripts/image.sh" build)
  # The clone goes; its archive is kept beside this checkout's (a link to the cached
  # archive, like make image's: removed first, as it may be the very same file).
  out=$PRAZIUM_ROOT/dist/prazium-image-$IMAGE_TAG-clone.oci.tar
  mkdir -p "$PRAZIUM_ROOT/dist"
  rm -f "$out"
  mv "$archive" "$out"
  echo "$out"
}

push() {
  local registry=${1:-} target tls=${TLS_VERIFY:-true} archive=${IMAGE_ARCHIVE:-}
  [ -n "$registry" ] || die "usage: make image-push REGISTRY=registry.example.com/team [TLS_VERIFY=false]"
  registry=${registry%/}
  target=$registry/prazium:$IMAGE_TAG
  # The archive make image writes (built now when missing or stale), or the one given.
  [ -n "$archive" ] || archive=$(build)
  need_tools
  buildah_cmd
  # What is pushed is the archive's content: read into buildah's storage under its name.
  "${BUILDAH[@]}" pull -q "oci-archive:$archive" >/dev/null || die "reading $archive failed"
  say "pushing $IMAGE ($archive) to $target"
  # Credentials: `buildah login REGISTRY` first (or REGISTRY_AUTH_FILE).
  "${BUILDAH[@]}" push --tls-verify="$tls" "$IMAGE" "docker://$target" >&2 \
    || die "pushing to $target failed (logged in? buildah login ${registry%%/*}; TLS_VERIFY=false for a registry without TLS)"
  say "pushed $target; install from it: helm install ... --set image.repository=$registry/prazium --set image.tag=$IMAGE_TAG"
  echo "$target"
}

case "${1:-}" in
  build) build ;;
  build-clone) build_clone ;;
  push) push "${2:-}" ;;
  name) echo "$IMAGE" ;;
  *) echo "usage: $0 build|build-clone|push REGISTRY|name" >&2; exit 2 ;;
esac
