# Turns what bench/scale_explain.sql prints on stderr (auto_explain's
# NOTICEs, headings "### ..." as NOTICEs too) into the body of
# bench/EXPLAIN-10M.md: a section per heading, each statement's plan once in
# a text block (a statement run again in the same call, such as each
# cancellation of an erasure, is counted, not repeated), and plans that
# touch no table (a PL/pgSQL call of a helper: "Result") left out.
function flush_plan(   key) {
  if (!in_plan) return
  in_plan = 0
  if (body !~ /Scan|Insert on|Update on|Delete on|LockRows/) return
  key = query
  if (key in seen) { times[seen[key]]++; return }
  n++
  seen[key] = n
  times[n] = 1
  text[n] = "Query Text: " query "\n" body
  dur[n] = duration
}
function flush_section(   i) {
  flush_plan()
  if (title == "") return
  print ""
  print "### " title
  print ""
  for (i = 1; i <= n; i++) {
    print "```text"
    printf "%s", text[i]
    print "```"
    if (times[i] > 1) print "(" times[i] " times in this call; the first shown, " dur[i] " ms.)"
    print ""
  }
  n = 0
  delete seen; delete times; delete text; delete dur
}
{
  sub(/^psql:[^:]*:[0-9]+: /, "")
  sub(/^(NOTICE|ERROR|WARNING):  /, "")
}
/^### / { flush_section(); title = substr($0, 5); next }
/^the organization / { print "Calls on " $0 "."; next }
/^duration: [0-9.]+ ms  plan:$/ {
  flush_plan()
  in_plan = 1; duration = $2; query = ""; body = ""; in_query = 0
  next
}
!in_plan { next }
/^Query Text: / { in_query = 1; query = substr($0, 13); next }
in_query && /\(cost=/ { in_query = 0 }
in_query { query = query "\n" $0; next }
{ body = body $0 "\n" }
END { flush_section() }
