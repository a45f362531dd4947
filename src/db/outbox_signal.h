/*
 * "Events were written": how a committed change wakes the delivery worker
 * without a NOTIFY inside the booking's transaction. NOTIFY there takes a
 * database-wide lock held through commit, which serialises the commits of
 * concurrent bookings: measured at 16 clients, the booking function with a
 * pg_notify made 0.42-0.72 x the bookings of the same function without
 * (bench/HISTORY.md, step 29). Instead the db layer raises this signal after
 * a change commits: an in-process worker wakes at once, and a front-end
 * without a worker forwards it as one NOTIFY per short interval, outside
 * any booking (outbox/notifier). The worker's poll (BOOKD_OUTBOX_POLL_MS)
 * is the backstop either way.
 */
#ifndef BOOKD_DB_OUTBOX_SIGNAL_H
#define BOOKD_DB_OUTBOX_SIGNAL_H

/* Creates the process's signal (an eventfd); 0 or -1. Idempotent. */
int db_outbox_signal_init(void);

/* Called after a change that wrote outbox events has committed. Cheap:
 * one write(2) when the signal exists, nothing otherwise. */
void db_outbox_signal(void);

/* The descriptor to poll for the signal (readable when raised), or -1. */
int db_outbox_signal_fd(void);

/* Clears the signal; call when the descriptor polled readable. */
void db_outbox_signal_clear(void);

#endif
