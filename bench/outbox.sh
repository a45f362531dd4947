# Sourced by bench/run.sh and bench/peer.sh.
#
# outbox_drained URL: waits (three minutes at most) until the worker of the
# bookd at URL has fanned out and delivered what waits (bookd_outbox_pending
# 0). The pgbench runs call the booking function directly, so their events
# reach the worker by its poll, not by a signal, and it fans them out
# while they run, one backend among up to 257: a backlog of hundreds of
# thousands of events can be left. A measurement after them that started
# on that backlog would pay for it (the HTTP bookings' events queue behind
# it), so each one that the worker is part of starts on a drained outbox.
outbox_drained() {
  local i
  for i in $(seq 600); do
    if [[ "$(curl -s "$1/metrics" | sed -n 's/^bookd_outbox_pending //p')" == "0" ]]; then
      (( i > 1 )) && echo "bench: the outbox drained in $(( (i - 1) * 3 / 10 )) s" >&2
      return 0
    fi
    sleep 0.3
  done
  echo "bench: the outbox did not drain within three minutes" >&2
}
