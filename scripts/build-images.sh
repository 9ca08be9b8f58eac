#!/usr/bin/env bash
# Build the node's images without a registry or Docker, and print their names:
#   build-images.sh pause     the Pod sandbox image (a static pause program, FROM scratch)
#   build-images.sh prazium   the Prazium image (images/Dockerfile's content)
#   build-images.sh postgres  the Helm chart's bundled PostgreSQL (Debian's postgresql-15)
#   build-images.sh import SOCKET [pause prazium postgres]   those (default: pause and
#                             prazium), imported into that containerd's k8s.io namespace
# The Prazium image is two cached parts: a base (Debian bookworm root filesystem by
# mmdebstrap from the machine's apt sources, Python 3.11, git, the locked requirements
# installed from wheels the host downloaded, each checked against the lock's sha256
# hashes on download and again on install) keyed by requirements.lock, and a thin
# top layer with the project installed as a package, keyed by the code. A code change
# rebuilds only the top layer. Archives live in the user cache (shared by clones/CI).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

IMG=$CACHE_DIR/images
# buildah keeps its own storage in the cache; vfs works on any filesystem.
BUILDAH=(buildah --root "$IMG/storage" --runroot "$IMG/run" --storage-driver vfs)
WORKER_UID=10001
mkdir -p "$IMG"

digest() { sha256sum | cut -c1-12; }

pause_key() { cat "$PRAZIUM_ROOT/images/pause/pause.c" | digest; }
pause_name() { echo "localhost/prazium/pause:$(pause_key)"; }

build_pause() {
  local name archive work ctr
  name=$(pause_name); archive=$IMG/pause-$(pause_key).tar
  [ -f "$archive" ] && return 0
  say "building the sandbox (pause) image $name"
  work=$(mktemp -d); trap 'rm -rf "${work:-}"' RETURN
  gcc -Os -static -s -o "$work/pause" "$PRAZIUM_ROOT/images/pause/pause.c" \
    || die "compiling the pause program failed (needs gcc and the static libc, libc6-dev)"
  ctr=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" copy --chmod 0755 "$ctr" "$work/pause" /pause >/dev/null
  "${BUILDAH[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
  "${BUILDAH[@]}" commit -q --rm "$ctr" "$name" >/dev/null
  "${BUILDAH[@]}" push -q "$name" "docker-archive:$archive.tmp:$name"
  mv "$archive.tmp" "$archive"
}

# The base's recipe is build_base below: bump BASE_RECIPE when changing it.
BASE_RECIPE=2
ROOTFS_PACKAGES=python3,python3-venv,git,ca-certificates
wheels_key() { cat "$PRAZIUM_ROOT/requirements.lock" | digest; }
lock_key() { (cat "$PRAZIUM_ROOT/requirements.lock"; echo "$BASE_RECIPE $ROOTFS_PACKAGES") | digest; }
base_name() { echo "localhost/prazium/base:$(lock_key)"; }
# The code: what the wheel is made of (tracked or not, never caches or .dev).
code_key() {
  (cd "$PRAZIUM_ROOT" && find kit operator api cli appgen/prazium_appgen crds pyproject.toml -type f \
      -not -path '*/__pycache__/*' -not -name '*.pyc' -not -path '*.egg-info*' \
    | LC_ALL=C sort | xargs sha256sum; lock_key) | digest
}
prazium_name() { echo "localhost/prazium/prazium:$(code_key)"; }

# The wheels of requirements.lock for the image's Python (3.11, glibc 2.36): the
# host's pip downloads them (installing from registries inside the build would
# need the host's certificate bundle baked into the image), refusing any file whose
# hash the lock does not list.
download_wheels() {
  local dir=$IMG/wheels-$(wheels_key)
  [ -f "$dir/.complete" ] && { echo "$dir"; return 0; }
  say "downloading the image's wheels for requirements.lock"
  rm -rf "$dir"; mkdir -p "$dir"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip download -q --disable-pip-version-check \
    --require-hashes --only-binary=:all: --python-version 3.11 \
    --implementation cp --abi cp311 --abi abi3 --abi none \
    --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    -r "$PRAZIUM_ROOT/requirements.lock" -d "$dir" >&2 \
    || die "downloading wheels failed"
  cp "$PRAZIUM_ROOT/requirements.lock" "$dir/requirements.lock"
  touch "$dir/.complete"
  echo "$dir"
}

have_image() { "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; }

build_base() {
  local name wheels rootfs ctr t0=$SECONDS
  name=$(base_name)
  have_image "$name" && return 0
  command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (make setup installs it)"
  wheels=$(download_wheels)
  rootfs=$IMG/rootfs-bookworm-$(echo "$ROOTFS_PACKAGES" | digest).tar
  if [ ! -f "$rootfs" ]; then
    say "making a Debian bookworm root filesystem (mmdebstrap, about a minute)"
    mmdebstrap --quiet --variant=minbase --include="$ROOTFS_PACKAGES" \
      --aptopt='Acquire::Retries "3"' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      bookworm "$rootfs.part.tar" >&2 || die "mmdebstrap failed"
    mv "$rootfs.part.tar" "$rootfs"
  fi
  say "building the image base $name (Python 3.11, git, requirements.lock)"
  ctr=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" add "$ctr" "$rootfs" / >/dev/null
  "${BUILDAH[@]}" copy "$ctr" "$wheels" /tmp/wheels >/dev/null
  "${BUILDAH[@]}" run --isolation chroot "$ctr" -- sh -euc "
    python3 -m venv /opt/prazium
    /opt/prazium/bin/pip install -q --disable-pip-version-check --no-index \
      --find-links /tmp/wheels --require-hashes -r /tmp/wheels/requirements.lock
    /opt/prazium/bin/python -c 'import kopf, fastapi, psycopg, uvicorn'
    rm -rf /tmp/wheels /root/.cache /var/lib/apt/lists/* /var/cache/apt/*
    echo 'prazium:x:$WORKER_UID:$WORKER_UID::/tmp:/usr/sbin/nologin' >>/etc/passwd
    echo 'prazium:x:$WORKER_UID:' >>/etc/group
  " >&2 || die "installing the requirements into the image failed"
  "${BUILDAH[@]}" config --env PATH=/opt/prazium/bin:/usr/local/bin:/usr/bin:/bin \
    --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 --env PRAZIUM_DATA_DIR=/data \
    --env HOME=/tmp --workingdir /tmp --user "$WORKER_UID:$WORKER_UID" \
    --cmd '["python", "-m", "prazium_operator"]' "$ctr"
  "${BUILDAH[@]}" commit -q --rm "$ctr" "$name" >/dev/null
  say "built the image base in $((SECONDS - t0)) s"
}

build_prazium() {
  local key name archive work ctr t0=$SECONDS
  # Once: the code may change while this runs; the image is what was read.
  key=$(code_key); name=localhost/prazium/prazium:$key; archive=$IMG/prazium-$key.tar
  [ -f "$archive" ] && return 0
  build_base
  say "building the Prazium image $name (the code as a package)"
  work=$(mktemp -d); trap 'rm -rf "${work:-}"' RETURN
  # The project as a wheel (no dependencies: they are in the base).
  (cd "$work" && tar -C "$PRAZIUM_ROOT" --exclude=__pycache__ --exclude='*.egg-info' \
     -cf - kit operator api cli appgen/prazium_appgen crds pyproject.toml | tar -xf - \
   && python3 -m pip wheel -q --disable-pip-version-check --no-deps -w "$work/dist" "$work" >&2) \
    || die "building the project's wheel failed"
  ctr=$("${BUILDAH[@]}" from "$(base_name)")
  "${BUILDAH[@]}" copy "$ctr" "$work/dist" /tmp/dist >/dev/null
  "${BUILDAH[@]}" copy "$ctr" "$PRAZIUM_ROOT/crds" /app/crds >/dev/null
  "${BUILDAH[@]}" run --isolation chroot --user 0:0 "$ctr" -- sh -euc '
    /opt/prazium/bin/pip install -q --disable-pip-version-check --no-deps --no-index \
      /tmp/dist/*.whl
    rm -rf /tmp/dist /root/.cache' >&2 || die "installing the project into the image failed"
  "${BUILDAH[@]}" commit -q --rm "$ctr" "$name" >/dev/null
  "${BUILDAH[@]}" push -q "$name" "docker-archive:$archive.tmp:$name"
  mv "$archive.tmp" "$archive"
  # The archive is what is kept (vfs storage holds every layer as a full copy).
  "${BUILDAH[@]}" rmi "$name" >/dev/null
  # Older code layers are not needed again: keep the cache to the current one.
  find "$IMG" -maxdepth 1 -name 'prazium-*.tar' ! -name "prazium-$key.tar" -delete
  say "built the Prazium image in $((SECONDS - t0)) s ($(du -m "$archive" | cut -f1) MB archive)"
}

# The chart's bundled PostgreSQL: Debian's postgresql-15 on a minbase root filesystem
# and images/postgres/entrypoint.sh (the official image's POSTGRES_* environment),
# running as uid/gid 999 as the chart's StatefulSet does. Keyed by its recipe.
POSTGRES_RECIPE=1
postgres_key() {
  (cat "$PRAZIUM_ROOT/images/postgres/entrypoint.sh"; echo "$POSTGRES_RECIPE") | digest
}
postgres_name() { echo "localhost/prazium/postgres:$(postgres_key)"; }

build_postgres() {
  local name archive rootfs ctr t0=$SECONDS
  name=$(postgres_name); archive=$IMG/postgres-$(postgres_key).tar
  [ -f "$archive" ] && return 0
  command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (make setup installs it)"
  rootfs=$IMG/rootfs-bookworm-postgres-$POSTGRES_RECIPE.tar
  if [ ! -f "$rootfs" ]; then
    say "making a Debian bookworm root filesystem with postgresql-15 (mmdebstrap, a minute or two)"
    # No cluster at install time (the entrypoint makes one on the volume); the
    # postgres user gets the uid/gid the chart runs as.
    mmdebstrap --quiet --variant=minbase --include=postgresql-15 \
      --aptopt='Acquire::Retries "3"' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --essential-hook='mkdir -p "$1/etc/postgresql-common" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.conf"' \
      --customize-hook='chroot "$1" sh -euc "groupmod -g 999 postgres && usermod -u 999 -g 999 postgres && mkdir -p /var/run/postgresql /var/lib/postgresql/data && chown -R 999:999 /var/run/postgresql /var/lib/postgresql && rm -rf /var/lib/apt/lists/* /var/cache/apt/*"' \
      bookworm "$rootfs.part.tar" >&2 || die "mmdebstrap (postgresql-15) failed"
    mv "$rootfs.part.tar" "$rootfs"
  fi
  say "building the PostgreSQL image $name"
  ctr=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" add "$ctr" "$rootfs" / >/dev/null
  "${BUILDAH[@]}" copy --chmod 0755 "$ctr" "$PRAZIUM_ROOT/images/postgres/entrypoint.sh" \
    /usr/local/bin/prazium-postgres >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin \
    --env PGDATA=/var/lib/postgresql/data/pgdata --user 999:999 \
    --entrypoint '["/usr/local/bin/prazium-postgres"]' --cmd '[]' "$ctr"
  "${BUILDAH[@]}" commit -q --rm "$ctr" "$name" >/dev/null
  "${BUILDAH[@]}" push -q "$name" "docker-archive:$archive.tmp:$name"
  mv "$archive.tmp" "$archive"
  "${BUILDAH[@]}" rmi "$name" >/dev/null
  find "$IMG" -maxdepth 1 -name 'postgres-*.tar' ! -name "postgres-$(postgres_key).tar" -delete
  say "built the PostgreSQL image in $((SECONDS - t0)) s ($(du -m "$archive" | cut -f1) MB archive)"
}

# import SOCKET [KIND...]: load the archives (default: pause and prazium) into containerd's k8s.io namespace (the CRI's).
import_images() {
  local sock=$1 name archive kinds
  shift
  kinds=("$@")
  [ ${#kinds[@]} -gt 0 ] || kinds=(pause prazium)
  for kind in "${kinds[@]}"; do
    case $kind in
      pause) build_pause; name=$(pause_name); archive=$IMG/pause-$(pause_key).tar ;;
      prazium) build_prazium; name=$(prazium_name); archive=$IMG/prazium-$(code_key).tar ;;
      postgres) build_postgres; name=$(postgres_name); archive=$IMG/postgres-$(postgres_key).tar ;;
      *) die "unknown image $kind" ;;
    esac
    if ! ctr --address "$sock" -n k8s.io images check "name==$name" 2>/dev/null | grep -q complete; then
      ctr --address "$sock" -n k8s.io images import "$archive" >/dev/null \
        || die "importing $name into containerd failed"
    fi
  done
}

case "${1:-}" in
  pause) build_pause; pause_name ;;
  prazium) build_prazium; prazium_name ;;
  pause-name) pause_name ;;
  prazium-name) prazium_name ;;
  postgres) build_postgres; postgres_name ;;
  postgres-name) postgres_name ;;
  import) shift; import_images "${1:?containerd socket}" "${@:2}" ;;
  *) echo "usage: $0 pause|prazium|postgres|pause-name|prazium-name|postgres-name|import SOCKET [KIND...]" >&2; exit 2 ;;
esac
