#!/usr/bin/env bash
# Print the replace block that pins each k8s.io staging module named in
# k8s.io/kubernetes's own go.mod to the published release matching it
# (kubernetes v1.X.Y -> staging v0.X.Y). Usage: gen-replaces.sh v1.35.4
set -euo pipefail
version=${1:?kubernetes version, e.g. v1.35.4}
staging="v0.${version#v1.}"
gomod=$(go mod download -json "k8s.io/kubernetes@${version}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
echo "replace ("
sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod" | sort -u | while read -r mod; do
  printf '\t%s => %s %s\n' "$mod" "$mod" "$staging"
done
echo ")"
