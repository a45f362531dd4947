#include "core/working_hours.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const day_keys[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
#define MAX_WINDOWS 24

/* Minutes since midnight of "HH:MM", or -1. */
static int parse_hhmm(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

static bool is_day_key(const char *key)
{
    for (size_t i = 0; i < sizeof day_keys / sizeof day_keys[0]; i++)
        if (strcmp(key, day_keys[i]) == 0)
            return true;
    return false;
}

int core_working_hours_validate(const json_t *hours, char *why, size_t why_size)
{
    const char *day;
    json_t *windows;

    if (!json_is_object(hours)) {
        snprintf(why, why_size, "workingHours must be an object with keys mon..sun.");
        return -1;
    }
    json_object_foreach((json_t *)hours, day, windows) {
        int starts[MAX_WINDOWS], ends[MAX_WINDOWS];
        size_t n = json_array_size(windows);
        if (!is_day_key(day)) {
            snprintf(why, why_size, "workingHours has an unknown day \"%.8s\"; use mon..sun.",
                     day);
            return -1;
        }
        if (!json_is_array(windows) || n > MAX_WINDOWS) {
            snprintf(why, why_size, "workingHours.%s must be an array of at most %d windows.",
                     day, MAX_WINDOWS);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *w = json_array_get(windows, i);
            int a = json_array_size(w) == 2 ? parse_hhmm(json_array_get(w, 0)) : -1;
            int b = json_array_size(w) == 2 ? parse_hhmm(json_array_get(w, 1)) : -1;
            if (!json_is_array(w) || a < 0 || b < 0) {
                snprintf(why, why_size,
                         "workingHours.%s windows must be [\"HH:MM\", \"HH:MM\"] pairs.", day);
                return -1;
            }
            if (a >= b) {
                snprintf(why, why_size, "workingHours.%s: a window must start before it ends.",
                         day);
                return -1;
            }
            for (size_t j = 0; j < i; j++)
                if (a < ends[j] && starts[j] < b) {
                    snprintf(why, why_size, "workingHours.%s: windows overlap.", day);
                    return -1;
                }
            starts[i] = a;
            ends[i] = b;
        }
    }
    return 0;
}
