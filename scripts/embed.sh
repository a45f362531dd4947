#!/usr/bin/env bash
# Writes a C file holding FILE's bytes as `const unsigned char NAME[]`
# (NUL-terminated) and `NAME_len`, so the binary carries it.
#   scripts/embed.sh FILE NAME OUT.c
set -euo pipefail
{
  echo "/* Generated from $1 by scripts/embed.sh; do not edit. */"
  echo "const unsigned char $2[] = {"
  od -An -v -tx1 "$1" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
  echo "0x00};"
  echo "const unsigned long $2_len = sizeof $2 - 1;"
} > "$3.tmp"
mv "$3.tmp" "$3"
