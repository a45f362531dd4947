#!/usr/bin/env bash
# Writes a C file holding every file of the web directory DIR (flat) as
# the table http_assets_embedded[] of http/assets.h: name, bytes, length
# and an ETag (the first 16 hex digits of its SHA-256), so the binary
# serves the pages of its own release and needs nothing on disk.
#   scripts/embed_web.sh DIR OUT.c
set -euo pipefail
dir=$1 out=$2
files=()
for f in "$dir"/*; do
  name=$(basename "$f")
  [[ -f "$f" && "$name" =~ ^[a-z0-9][a-z0-9._-]*$ ]] || continue
  files+=("$name")
done
{
  echo "/* Generated from $dir by scripts/embed_web.sh; do not edit. */"
  echo '#include "http/assets.h"'
  i=0
  for name in "${files[@]}"; do
    echo "static const unsigned char asset_$i[] = {"
    od -An -v -tx1 "$dir/$name" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
    echo "0x00};"
    i=$((i + 1))
  done
  echo "const struct http_asset http_assets_embedded[] = {"
  i=0
  for name in "${files[@]}"; do
    etag=$(sha256sum "$dir/$name" | cut -c1-16)
    echo "    {\"$name\", asset_$i, sizeof asset_$i - 1, \"\\\"$etag\\\"\"},"
    i=$((i + 1))
  done
  echo "};"
  echo "const int http_assets_embedded_count = $i;"
} > "$out.tmp"
mv "$out.tmp" "$out"
