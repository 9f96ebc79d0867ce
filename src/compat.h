/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PG_VERSION_NUM shim pgjobs needs, in one place.
 *
 * pgjobs targets PostgreSQL 15 and builds against 13 to 17.  Code outside
 * this file never tests PG_VERSION_NUM.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGJOBS_COMPAT_H
#define PGJOBS_COMPAT_H

#include "utils/guc.h"

#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif

/* A uniformly distributed double in [0, 1). */
#if PG_VERSION_NUM >= 150000
#define PgjobsRandomDouble() pg_prng_double(&pg_global_prng_state)
#else
#define PgjobsRandomDouble() ((double) random() / ((double) MAX_RANDOM_VALUE + 1))
#endif

/* Reserving a GUC prefix got its current name in 15. */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

#endif							/* PGJOBS_COMPAT_H */
