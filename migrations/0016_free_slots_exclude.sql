-- Free times for moving an appointment leave that appointment out (a
-- patient moving 10:00 to 10:15 through a manage link: sql/65_manage.sql):
-- free_slots and free_slot_days take the id to leave out, so their old
-- signatures go (sql/20_availability.sql makes the new ones).
DROP FUNCTION IF EXISTS free_slot_days(uuid, uuid, date, date, int, int, int, int, timestamptz,
                                       boolean);
DROP FUNCTION IF EXISTS free_slots(uuid, uuid, date, int, int, int, int, timestamptz, boolean);
