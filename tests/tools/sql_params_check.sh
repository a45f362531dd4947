#!/usr/bin/env bash
# Every SQL statement bookd runs is parameterised: a static check over the C
# sources (DESIGN.md, "Code conventions": "SQL only with parameters, only in
# src/db/. No sprintf, strcat"). Prints TAP, one line per rule, with a
# "# file:line: ..." diagnostic under each failed rule; exits 1 when a rule
# is broken, 2 when it cannot run.
#
#   tests/tools/sql_params_check.sh [SRC_DIR]     (default: the repo's src/)
#
# How: one awk pass reads every .c/.h file like a small C lexer (comments
# dropped, string literals kept whole, adjacent literals joined, macros'
# bodies recorded) and writes records:
#   L  a string literal: where, the function it is in, the call it is an
#      argument of (and which argument), its text;
#   C  a call of interest (a SQL sink, a string writer): its arguments in a
#      normal form, where every literal is "" and white space is gone
#      (e.g. `lock?BREAKER_COLUMNS"":BREAKER_COLUMNS`, `db_statements[i].sql`);
#   F  a function definition: its parameters;
#   D  a #define: its body in the same normal form.
# The rules below are awk over those records. A literal "looks like SQL"
# when it starts with a SQL command word (SELECT, INSERT, BEGIN, SET, ...) or
# holds an unmistakable SQL phrase (select … from, insert into, delete from,
# update x set, $1::type).
#
# A "SQL sink" is a function that sends the text of a statement to the
# server: libpq's (PQexec, PQexecParams, PQprepare, PQsend*) and bookd's
# thin wrappers around them (rule 6 keeps that list complete). The only
# expressions a sink may get as its SQL are constants (string literals,
# macros that are string literals, a ternary of those) and the few
# ALLOWED ones listed below, each with its reason.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../../src}
if [[ ! -d "$src/db" ]]; then
  echo "Bail out! $src is not bookd's src/ (no db/ in it)"
  exit 2
fi
src=$(cd "$src" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# SQL sinks: callee and which argument (from 1) is the SQL text. A wrapper
# is named with its file, since its name (run, ...) may mean something else
# elsewhere.
SINKS='
PQexec 2
PQexecParams 2
PQprepare 3
PQsendQuery 2
PQsendQueryParams 2
PQsendPrepare 3
db/migrate.c:exec_params 2
db/migrate.c:exec_ok 2
db/migrate.c:fetch_one 2
db/deliveries.c:run 3
db/deliveries.c:run_ok 3
db/deliveries.c:run_int 3
db_session_exec 3
db/connect.c:exec_pipelined 3
db_exec_bounded 3
'

# Non-constant SQL a sink may get: file|function|callee|argument (normal
# form)|why it is safe. Anything else that is not a constant fails rules
# 7 and 8. (Backquotes here are prose, not command substitutions.)
# shellcheck disable=SC2016
ALLOWED='
db/pool.c|conn_open|PQprepare|db_statements[i].sql|the statement table of db/statements.c: constant literals, checked by rules 2-5 like every other literal
db/migrate.c|exec_params|PQexecParams|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/migrate.c|exec_params|PQexec|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/migrate.c|exec_ok|exec_params|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/migrate.c|fetch_one|PQexecParams|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/migrate.c|apply_migrations|exec_ok|sql|a migration file (migrations/NNNN_*.sql) built into the binary (or read from --migrations-dir/--sql-dir) by `bookd migrate`: operator-shipped DDL, several statements, no client value in it; cannot take parameters
db/migrate.c|apply_functions|exec_ok|sql|a function file (sql/NN_*.sql) built into the binary (or read from --migrations-dir/--sql-dir) by `bookd migrate`: operator-shipped CREATE OR REPLACE FUNCTION text, no client value in it; cannot take parameters
db/secrets.c|db_secrets_rotate|PQexec|columns[c].select_sql|the static const table `columns` of db/secrets.c: constant literals
db/secrets.c|reseal_row|PQexecParams|col->update_sql|the static const table `columns` of db/secrets.c: constant literals, with $1..$4 parameters
db/deliveries.c|run|db_exec_bounded|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/deliveries.c|run_ok|run|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/deliveries.c|db_session_exec|run|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/deliveries.c|run_int|run|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/connect.c|exec_pipelined|PQsendQueryParams|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/connect.c|db_exec_bounded|PQexecParams|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/connect.c|db_exec_bounded|exec_pipelined|sql|the wrapper passing its own parameter on; its callers are checked as sinks
db/pool.c|exec_statement|db_exec_bounded|sql|BOOKD_DB_STATEMENTS=unnamed: the text of a statement of the table of db/statements.c (statement_sql), constant literals checked by rules 2-5 like every other literal
'

# Files under db/ that may hold SQL text: the statement table and the files
# that run SQL directly (the worker's session, the migrations runner, the
# key rotation, the pool's probe, the per-statement timeout of unnamed
# statements in db/connect.c) or hand literals to the worker's session.
SQL_FILES='
db/statements.c
db/pool.c
db/connect.c
db/migrate.c
db/secrets.c
db/deliveries.c
db/integrations.c
db/manage.c
db/role.c
'

# Functions that write into a buffer (formatting, copying, appending): the
# destination is their first argument.
WRITERS='snprintf sprintf vsnprintf vsprintf asprintf vasprintf strcat strncat strcpy strncpy stpcpy stpncpy strlcpy strlcat memcpy memmove integ_text_add integ_text_add_escaped integ_text_add_field'

# libpq functions that run SQL text or a prepared statement: only in db/.
LIBPQ_RUN='PQexec PQexecParams PQexecPrepared PQprepare PQsendQuery PQsendQueryParams PQsendPrepare PQsendQueryPrepared PQdescribePrepared PQsendDescribePrepared'

callees=$(printf '%s\n' "$SINKS" | awk 'NF { n = split($1, a, ":"); print a[n] }' | sort -u | tr '\n' ' ')
interesting="$callees $WRITERS $LIBPQ_RUN"

# ---------------------------------------------------------------- the lexer

(cd "$src" && find . -name '*.c' -o -name '*.h' | sed 's|^\./||' | LC_ALL=C sort) >"$work/files"
if [[ ! -s "$work/files" ]]; then
  echo "Bail out! no C sources under $src"
  exit 2
fi

lex() {
  awk -v FILE="$1" -v INTERESTING="$interesting" '
  BEGIN {
    n = split(INTERESTING, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1
    split("if while for switch return sizeof do else case _Alignof _Static_assert defined", k, " ")
    for (i in k) keyword[k[i]] = 1
    US = "\037"; depth = 0; top = 0; func = ""; incom = 0; pp = 0; prevt = ""; prevv = ""
    litrun = 0; pendingdef = ""
  }
  function flushlit() {
    if (!litrun) return
    printf "L\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", FILE, litline, (pp ? "#define" : func), litcallee, litarg, pp, littext
    litrun = 0
  }
  # Appends a token (normal form) to the current argument of the open frame.
  function add(t,   c, last) {
    if (top == 0) { if (pp) ppbody = ppbody t; return }
    c = fcur[top]
    last = substr(c, length(c), 1)
    if (last ~ /[A-Za-z0-9_]/ && t ~ /^[A-Za-z0-9_]/) c = c " "
    fcur[top] = c t
  }
  function innercall(   i) {
    for (i = top; i >= 1; i--) if (fcall[i]) return i
    return 0
  }
  function token(type, v,   i, j, args, name) {
    if (type != "lit") flushlit()
    if (pendingdef != "" && !(type == "punct" && v == "{")) pendingdef = ""
    if (type == "lit") {
      if (litrun) { littext = littext v; return }
      litrun = 1; littext = v; litline = NR
      i = innercall()
      litcallee = i ? fname[i] : ""; litarg = i ? fargc[i] : 0
      add("\"\"")
    } else if (type == "punct" && v == "(") {
      top++
      fname[top] = (prevt == "id" && !(prevv in keyword)) ? prevv : "("
      fcall[top] = fname[top] != "("
      fargc[top] = 1; fcur[top] = ""; fargs[top] = ""; fnest[top] = 0; fline[top] = NR
      fdepth[top] = depth
    } else if (type == "punct" && v == ")" && top > 0 && fnest[top] == 0) {
      args = fargs[top] (fargc[top] > 1 ? US : "") fcur[top]
      name = fname[top]
      if (fcall[top] && (name in want) && depth > 0)
        printf "C\t%s\t%d\t%s\t%s\t%d\t%s\n", FILE, fline[top], func, name, fargc[top], args
      if (fcall[top] && depth == 0 && !pp && top == 1) { pendingdef = name; pendingargs = args; pendingline = fline[top] }
      gsub(US, ",", args)
      top--
      add("(" args ")")
    } else if (type == "punct" && v == "," && top > 0 && fnest[top] == 0) {
      fargs[top] = fargs[top] (fargc[top] > 1 ? US : "") fcur[top]
      fargc[top]++; fcur[top] = ""
    } else {
      if (type == "punct" && (v == "[" || v == "{") && top > 0) fnest[top]++
      if (type == "punct" && (v == "]" || v == "}") && top > 0 && fnest[top] > 0) fnest[top]--
      if (type == "punct" && v == "{" && top == 0) {
        if (depth == 0 && pendingdef != "") {
          func = pendingdef
          printf "F\t%s\t%d\t%s\t%s\n", FILE, pendingline, func, pendingargs
        }
        pendingdef = ""
        depth++
      } else if (type == "punct" && v == "}" && top == 0) {
        depth--
        if (depth <= 0) { depth = 0; func = "" }
      }
      add(v)
    }
    prevt = type; prevv = v
  }
  {
    line = $0; len = length(line); i = 1
    if (!pp && !incom && line ~ /^[ \t]*#/) {
      # A preprocessor line: only #define matters (its body, for rule 10);
      # literals in it are still literals.
      if (line ~ /^[ \t]*#[ \t]*define[ \t]+[A-Za-z_][A-Za-z0-9_]*/) {
        s = line; sub(/^[ \t]*#[ \t]*define[ \t]+/, "", s)
        ppname = s; sub(/[^A-Za-z0-9_].*$/, "", ppname)
        i = index(line, ppname) + length(ppname)
        if (substr(line, i, 1) == "(") { ppname = "" }   # function-like: not a constant
        pp = 1; ppbody = ""; ppline = NR; saved_top = top; top = 0
      } else {
        next
      }
    }
    while (i <= len) {
      c = substr(line, i, 1)
      if (incom) {
        j = index(substr(line, i), "*/")
        if (j == 0) { i = len + 1; continue }
        incom = 0; i += j + 1; continue
      }
      if (c == "/" && substr(line, i + 1, 1) == "*") { incom = 1; i += 2; continue }
      if (c == "/" && substr(line, i + 1, 1) == "/") break
      if (c == "\\" && i == len) { i++; continue }       # line continuation
      if (c ~ /[ \t\r\f\v]/) { i++; continue }
      if (c == "\"") {
        j = i + 1; v = ""
        while (j <= len) {
          d = substr(line, j, 1)
          if (d == "\\") { v = v substr(line, j, 2); j += 2; continue }
          if (d == "\"") break
          v = v d; j++
        }
        token("lit", v); i = j + 1; continue
      }
      if (c == "'"'"'") {
        j = i + 1
        while (j <= len) {
          d = substr(line, j, 1)
          if (d == "\\") { j += 2; continue }
          if (d == "'"'"'") break
          j++
        }
        token("chr", "0"); i = j + 1; continue
      }
      if (c ~ /[A-Za-z_]/) {
        j = i; while (j <= len && substr(line, j, 1) ~ /[A-Za-z0-9_]/) j++
        token("id", substr(line, i, j - i)); i = j; continue
      }
      if (c ~ /[0-9]/) {
        j = i; while (j <= len && substr(line, j, 1) ~ /[A-Za-z0-9_.]/) j++
        token("num", substr(line, i, j - i)); i = j; continue
      }
      if (substr(line, i, 2) == "->") { token("punct", "->"); i += 2; continue }
      token("punct", c); i++
    }
    if (pp && !(line ~ /\\[ \t]*$/)) {
      flushlit()
      if (ppname != "") printf "D\t%s\t%d\t%s\t%s\n", FILE, ppline, ppname, ppbody
      pp = 0; top = saved_top; prevt = ""; prevv = ""
    }
  }
  END { flushlit() }
  ' "$src/$1"
}

while read -r f; do lex "$f"; done <"$work/files" >"$work/records"
grep -c '^L' "$work/records" >/dev/null || { echo "Bail out! the lexer found no string literal"; exit 2; }

# Literals that look like SQL: L records, one per line.
awk -F'\t' '
  function sqlish(t,   u, l) {
    u = t; sub(/^[ \t]+/, "", u)
    # A command word with more after it ("DELETE" alone is an HTTP method),
    # or a transaction command alone.
    if (u ~ /^(SELECT|INSERT|UPDATE|DELETE|WITH|BEGIN|COMMIT|ROLLBACK|LISTEN|UNLISTEN|NOTIFY|SET|RESET|CREATE|ALTER|DROP|TRUNCATE|COPY|CALL|DO|LOCK|VACUUM|ANALYZE|EXPLAIN|PREPARE|EXECUTE|DECLARE|GRANT|REVOKE|SAVEPOINT|RELEASE|START TRANSACTION)[ \t(;]+[^ \t;]/) return 1
    if (u ~ /^(BEGIN|COMMIT|ROLLBACK|END|ABORT)[ \t;]*$/) return 1
    l = tolower(t)
    if (l ~ /(^|[^a-z0-9_])select[ \t].*[ \t]from[ \t]/) return 1
    if (l ~ /(^|[^a-z0-9_])(insert[ \t]+into|delete[ \t]+from)[ \t]/) return 1
    if (l ~ /(^|[^a-z0-9_])update[ \t]+[a-z_][a-z0-9_.]*[ \t]+set[ \t]/) return 1
    if (t ~ /\$[0-9]+::[a-z]/) return 1
    return 0
  }
  $1 == "L" && sqlish($8)
' "$work/records" >"$work/sql_literals"

# ---------------------------------------------------------------- TAP

n=0
failed=0
rule() { # rule <description> <file with one violation per line>
  n=$((n + 1))
  if [[ -s "$2" ]]; then
    echo "not ok $n - $1"
    sed 's/^/# /' "$2"
    failed=1
  else
    echo "ok $n - $1"
  fi
}
echo "1..10"

# Rule 1. Only db/ talks to the database: a handler that ran SQL itself
# would bypass the one layer that is reviewed for parameters (DESIGN.md,
# "api never builds SQL; db never knows about HTTP").
{
  (cd "$src" && tr '\n' '\0' <"$work/files" | xargs -0 grep -n '#[[:space:]]*include[[:space:]]*<libpq-fe.h>' /dev/null) |
    grep -v '^db/' | sed 's/$/: includes libpq outside db\//'
  awk -F'\t' -v L="$LIBPQ_RUN" 'BEGIN { n = split(L, a, " "); for (i = 1; i <= n; i++) r[a[i]] = 1 }
    $1 == "C" && ($5 in r) && $2 !~ /^db\// { printf "%s:%d: %s() outside db/\n", $2, $3, $5 }' "$work/records"
} >"$work/r1"
rule "libpq runs SQL only in src/db/ (no PQexec*/PQprepare/PQsend* or <libpq-fe.h> elsewhere)" "$work/r1"

# Rule 2. SQL text lives only in db/: a statement written anywhere else is
# a statement nobody checks for parameters.
awk -F'\t' '$2 !~ /^db\// { printf "%s:%d: SQL text outside db/: \"%.70s\"\n", $2, $3, $8 }' \
  "$work/sql_literals" >"$work/r2"
rule "SQL text only in src/db/" "$work/r2"

# Rule 3. Inside db/, SQL text only in the statement table and the few files
# that run SQL directly (SQL_FILES above): a new place that holds SQL must be
# added there on purpose, after a look at how it runs it.
awk -F'\t' -v F="$SQL_FILES" 'BEGIN { n = split(F, a, "\n"); for (i = 1; i <= n; i++) if (a[i] != "") ok[a[i]] = 1 }
  $2 ~ /^db\// && !($2 in ok) { printf "%s:%d: SQL text in a file not listed in SQL_FILES: \"%.70s\"\n", $2, $3, $8 }' \
  "$work/sql_literals" >"$work/r3"
rule "in src/db/, SQL text only in statements.c and the files that run SQL directly" "$work/r3"

# Rule 4. No SQL text is a printf template: "... WHERE id = '%s'" is how
# client values end up inside a statement. The pattern of PostgreSQL's own
# format('...%s...', value) is not C's business (the server fills it in
# with values), so it is taken out before looking.
awk -F'\t' '{ t = $8; gsub(/format\('"'"'[^'"'"']*'"'"'/, "format(", t) }
  t ~ /%[-+ #0]*[0-9*]*(\.[0-9*]+)?(hh|h|ll|l|L|z|j|t)?[diouxXeEfFgGaAcsp]/ {
  printf "%s:%d: SQL text with a printf conversion: \"%.70s\"\n", $2, $3, $8 }' "$work/sql_literals" >"$work/r4"
rule "no SQL text is a printf-style template (no %s, %d, ... in it)" "$work/r4"

# Rule 5. SQL text goes straight to the server: it is a constant (a #define,
# a static table) or the SQL argument of a sink. Handed to snprintf, strcat,
# memcpy or any other function, it is being pasted together with something.
awk -F'\t' -v S="$SINKS" '
  BEGIN { n = split(S, a, "\n"); for (i = 1; i <= n; i++) if (split(a[i], p, " ") == 2) sink[p[1]] = p[2] }
  function argof(file, callee) { if ((file ":" callee) in sink) return sink[file ":" callee]; if (callee in sink) return sink[callee]; return 0 }
  $5 == "" { next }                                  # not an argument of any call
  argof($2, $5) == $6 + 0 { next }                   # the SQL argument of a sink
  { printf "%s:%d: SQL text given to %s() (argument %d), not run as is: \"%.60s\"\n", $2, $3, $5, $6, $8 }
' "$work/sql_literals" >"$work/r5"
rule "SQL text is only ever a constant or a sink's SQL argument (never pasted: no snprintf/strcat/memcpy of SQL)" "$work/r5"

# Rule 6. The list of sinks is complete: every function taking `const char
# *sql` passes it to the server somewhere, so its callers must be checked
# too (rules 7 to 9).
awk -F'\t' -v S="$SINKS" '
  BEGIN { n = split(S, a, "\n"); for (i = 1; i <= n; i++) if (split(a[i], p, " ") == 2) sink[p[1]] = p[2] }
  $1 == "F" {
    m = split($5, params, "\037")
    for (i = 1; i <= m; i++) if (params[i] ~ /(^|[^A-Za-z0-9_])sql$/) {
      k = (($2 ":" $4) in sink) ? sink[$2 ":" $4] : (($4 in sink) ? sink[$4] : 0)
      if (k != i) printf "%s:%d: %s() takes SQL as parameter %d but is not in SINKS with that position\n", $2, $3, $4, i
    }
  }' "$work/records" >"$work/r6"
rule "every function with a 'const char *sql' parameter is a registered SQL sink" "$work/r6"

# The SQL argument of every sink call: file, line, function, callee, the
# argument (normal form), whether it is constant, whether it is allowed.
awk -F'\t' -v S="$SINKS" -v A="$ALLOWED" '
  BEGIN {
    n = split(S, a, "\n"); for (i = 1; i <= n; i++) if (split(a[i], p, " ") == 2) sink[p[1]] = p[2]
    n = split(A, a, "\n"); for (i = 1; i <= n; i++) if (split(a[i], p, "|") >= 4) allowed[p[1] "|" p[2] "|" p[3] "|" p[4]] = 1
  }
  # Constants: literals ("" in normal form) and UPPER_CASE macros side by
  # side; a ternary whose both branches are constants.
  function constant(e,   b, parts, i, m) {
    if (index(e, "?") > 0) {
      b = substr(e, index(e, "?") + 1)
      m = split(b, parts, ":")
      for (i = 1; i <= m; i++) if (!constant(parts[i])) return 0
      return m == 2
    }
    gsub(/""/, "", e); gsub(/[A-Z][A-Z0-9_]*/, "", e); gsub(/[ ()]/, "", e)
    return e == ""
  }
  $1 == "C" {
    k = (($2 ":" $5) in sink) ? sink[$2 ":" $5] : (($5 in sink) ? sink[$5] : 0)
    if (!k) next
    split($7, args, "\037")
    e = args[k]
    printf "%s\t%d\t%s\t%s\t%s\t%d\t%d\n", $2, $3, $4, $5, e, constant(e), (($2 "|" $4 "|" $5 "|" e) in allowed)
  }' "$work/records" >"$work/sink_args"

# Rule 7. PQexec takes no parameters and runs several statements at once: it
# gets a constant or an allowed expression, never a buffer (the classic
# injection: PQexec(conn, buf) after snprintf(buf, ..., "...%s", value)).
awk -F'\t' '$4 == "PQexec" && !$6 && !$7 { printf "%s:%d: PQexec(…, %s) in %s(): not a string constant\n", $1, $2, $5, $3 }' \
  "$work/sink_args" >"$work/r7"
rule "PQexec only with string constants (or an allowed, explained expression)" "$work/r7"

# Rule 8. Every other sink too: SQL text is a constant, values travel as
# parameters ($1, $2, ...) beside it.
awk -F'\t' '$4 != "PQexec" && !$6 && !$7 { printf "%s:%d: %s(…, %s, …) in %s(): SQL that is not a constant\n", $1, $2, $4, $5, $3 }' \
  "$work/sink_args" >"$work/r8"
rule "every SQL sink (PQexecParams, PQprepare, PQsend*, bookd's wrappers) gets constant SQL (or an allowed expression)" "$work/r8"

# Rule 9. No buffer that a formatting or copying function wrote (snprintf,
# sprintf, asprintf, strcat, strcpy, memcpy, ...) is then run as SQL in the
# same function, allowed or not.
awk -F'\t' -v W="$WRITERS" '
  BEGIN { n = split(W, a, " "); for (i = 1; i <= n; i++) writer[a[i]] = 1 }
  FNR == NR {
    if ($1 == "C" && ($5 in writer)) {
      split($7, args, "\037"); d = args[1]; sub(/^&/, "", d); gsub(/[()]/, "", d)
      written[$2 "|" $4 "|" d] = $3 " " $5
    }
    next
  }
  { e = $5; sub(/^&/, "", e); gsub(/[()]/, "", e)
    if (($1 "|" $3 "|" e) in written) {
      split(written[$1 "|" $3 "|" e], w, " ")
      printf "%s:%d: %s() runs %s as SQL, written by %s() on line %d\n", $1, $2, $4, e, w[2], w[1]
    } }' "$work/records" "$work/sink_args" >"$work/r9"
rule "no formatted or concatenated buffer (snprintf/sprintf/asprintf/strcat/strcpy/memcpy) is run as SQL" "$work/r9"

# Rule 10. The macros a sink gets as SQL are constants themselves: string
# literals (and other such macros), so rule 7/8's "UPPER_CASE is constant"
# holds.
awk -F'\t' '
  FNR == NR { if ($1 == "D") body[$4] = $5; next }
  $6 {
    e = $5
    while (match(e, /[A-Z][A-Z0-9_]*/)) {
      m = substr(e, RSTART, RLENGTH); e = substr(e, RSTART + RLENGTH)
      if (!(m in body)) { printf "%s:%d: %s is not a #define of this tree\n", $1, $2, m; continue }
      b = body[m]; gsub(/""/, "", b); gsub(/[A-Z][A-Z0-9_]*/, "", b); gsub(/[ ()]/, "", b)
      if (b != "") printf "%s:%d: %s (used as SQL) is not a string constant: %s\n", $1, $2, m, body[m]
    }
  }' "$work/records" "$work/sink_args" >"$work/r10"
rule "macros used as SQL are string constants" "$work/r10"

# SQL_CHECK_KEEP=dir keeps the records for a look (records, sql_literals,
# sink_args).
[[ -n "${SQL_CHECK_KEEP:-}" ]] && mkdir -p "$SQL_CHECK_KEEP" && cp "$work"/records "$work"/sql_literals "$work"/sink_args "$SQL_CHECK_KEEP"/
echo "# $(wc -l <"$work/files") files, $(wc -l <"$work/sql_literals") SQL literals, $(wc -l <"$work/sink_args") SQL sink calls checked"
exit "$failed"
