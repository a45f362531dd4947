/*
 * Working hours: {"mon":[["09:00","12:00"],["13:00","17:00"]], ...} in the
 * organization's local time. Keys mon..sun; days left out are closed;
 * windows are "HH:MM" pairs with start < end that do not overlap.
 */
#ifndef BOOKD_CORE_WORKING_HOURS_H
#define BOOKD_CORE_WORKING_HOURS_H

#include <jansson.h>
#include <stddef.h>

/*
 * Checks `hours`. Returns 0, or -1 with a sentence for the client in `why`.
 * Windows may come in any order; touching windows are allowed.
 */
int core_working_hours_validate(const json_t *hours, char *why, size_t why_size);

#endif
