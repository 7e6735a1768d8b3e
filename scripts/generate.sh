#!/usr/bin/env bash
# Regenerates gen/ from proto/. Needs buf on PATH (see README: Development).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/googleapis.sh
rm -rf gen
buf generate
