#!/usr/bin/env bash
# Copies google/api/{annotations,http}.proto from the grpc-gateway v1.16.0 Go
# module into third_party/googleapis (git-ignored). Works offline once the
# module is in the Go module cache, and through the Go module proxy otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(go mod download -json github.com/grpc-ecosystem/grpc-gateway@v1.16.0 |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "googleapis.sh: could not download grpc-gateway v1.16.0" >&2; exit 1; }
mkdir -p third_party/googleapis/google/api
for f in annotations.proto http.proto; do
  install -m 0644 "$dir/third_party/googleapis/google/api/$f" third_party/googleapis/google/api/$f
done
