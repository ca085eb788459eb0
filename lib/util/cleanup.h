/* Cleanup attributes: the variable is released when it goes out of scope,
 * so early returns cannot leak.  Set the variable to NULL (or -1) to keep
 * the object, for example when returning it to the caller. */
#ifndef H2K_CLEANUP_H
#define H2K_CLEANUP_H

#include <stdio.h>

void h2k_cleanup_free (void *ptr);
void h2k_cleanup_fclose (void *ptr);
void h2k_cleanup_close (void *ptr);
void h2k_cleanup_json_put (void *ptr);

#define CLEANUP_FREE __attribute__ ((cleanup (h2k_cleanup_free)))
#define CLEANUP_FCLOSE __attribute__ ((cleanup (h2k_cleanup_fclose)))
#define CLEANUP_CLOSE __attribute__ ((cleanup (h2k_cleanup_close)))
/* For json_object *: json_object_put at scope exit. */
#define CLEANUP_JSON __attribute__ ((cleanup (h2k_cleanup_json_put)))

#endif
