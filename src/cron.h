/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  Cron expressions: the parsed form and the functions that parse one
 *	  and compute its next occurrence.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGJOBS_CRON_H
#define PGJOBS_CRON_H

#include "datatype/timestamp.h"
#include "pgtime.h"

/* Longest cron expression accepted, in bytes. */
#define CRON_MAX_EXPRESSION_LENGTH	1024

/*
 * A parsed cron expression: one bit per value each field selects.  Day of
 * week 7 (Sunday) is stored as 0.  dom_star and dow_star record whether the
 * day-of-month and day-of-week fields started with '*': only when neither
 * did does a day match if EITHER field matches (Vixie cron's rule);
 * otherwise both must match.
 */
typedef struct CronSpec
{
	uint64		minutes;		/* bit n: minute n, 0-59 */
	uint32		hours;			/* bit n: hour n, 0-23 */
	uint32		days_of_month;	/* bit n: day n, 1-31 */
	uint16		months;			/* bit n: month n, 1-12 */
	uint8		days_of_week;	/* bit n: weekday n, 0 (Sunday) to 6 */
	bool		dom_star;		/* day-of-month field starts with '*' */
	bool		dow_star;		/* day-of-week field starts with '*' */
} CronSpec;

/*
 * CronTryParse parses expr into *spec without raising an error: on a bad
 * expression it returns false and sets *detail (and *hint, or NULL) to
 * palloc'd sentences for errdetail/errhint.  CronParse does the same but
 * raises the error; CronCheck only validates.
 */
extern bool CronTryParse(const char *expr, CronSpec *spec,
						 char **detail, char **hint);
extern void CronParse(const char *expr, CronSpec *spec);
extern void CronCheck(const char *expr);

/*
 * CronNext returns the first occurrence of spec strictly after "after",
 * matching the wall clock of tz (NULL: the session's TimeZone).
 */
extern TimestampTz CronNext(const CronSpec *spec, TimestampTz after,
							pg_tz *tz);

/* CronLookupTimeZone resolves a time zone name, or raises an error. */
extern pg_tz *CronLookupTimeZone(const char *name);

#endif							/* PGJOBS_CRON_H */
