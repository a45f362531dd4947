#!/usr/bin/env bash
# Writes a C file holding the migrations (MIGRATIONS/NNNN_*.sql) and the
# SQL function files (SQL/NN_*.sql) as the tables of db/migrate.h,
# db_builtin_migrations[] and db_builtin_functions[], in name order, so
# `bookd migrate` applies the schema of its own release from any directory
# (src/db/migrate.h says why).
#   scripts/embed_sql.sh MIGRATIONS SQL OUT.c
set -euo pipefail
migrations=$1 sql=$2 out=$3

# table NAME DIR DIGITS: the files of DIR named DIGITS digits, "_", a name
# and ".sql" (what the runner takes from a directory too), as NAME[].
table() {
  local name=$1 dir=$2 digits=$3 f base i=0
  local -a files=()
  for f in "$dir"/*.sql; do
    base=$(basename "$f")
    [[ -f "$f" && "$base" =~ ^[0-9]{$digits}_.+\.sql$ ]] && files+=("$base")
  done
  for base in "${files[@]}"; do
    echo "static const unsigned char ${name}_${i}[] = {"
    od -An -v -tx1 "$dir/$base" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
    echo "0x00};"
    i=$((i + 1))
  done
  echo "const struct db_sql_file ${name}[] = {"
  i=0
  for base in "${files[@]}"; do
    echo "    {\"$base\", (const char *)${name}_$i},"
    i=$((i + 1))
  done
  echo "    {0, 0}};"
  echo "const int ${name}_count = $i;"
}

{
  echo "/* Generated from $migrations and $sql by scripts/embed_sql.sh; do not edit. */"
  echo '#include "db/migrate.h"'
  table db_builtin_migrations "$migrations" 4
  table db_builtin_functions "$sql" 2
} >"$out.tmp"
mv "$out.tmp" "$out"
