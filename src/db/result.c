#include "db/result.h"

#include <stdlib.h>

void db_appointment_cleanup(struct db_appointment *a)
{
    free(a->notes);
    free(a->metadata_json);
    a->notes = NULL;
    a->metadata_json = NULL;
}

void db_result_cleanup(struct db_result *res)
{
    if (!res)
        return;
    db_appointment_cleanup(&res->appointment);
    db_appointment_cleanup(&res->previous);
}
