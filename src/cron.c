/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Cron expressions for recurring jobs: parsing them, and finding the
 *	  next occurrence in the wall-clock time of a time zone.
 *
 * An expression has the five standard fields, minute (0-59), hour (0-23),
 * day of month (1-31), month (1-12) and day of week (0-7, where 0 and 7
 * are Sunday).  Each field is a comma-separated list of items; an item is
 * '*', a value, or a range a-b, optionally followed by a step /n.  With a
 * step, '*' and a-b select every n-th value from their start, and a single
 * value a selects every n-th value from a to the end of the field.  Months
 * and days of the week may also be named by their first three English
 * letters (JAN, SUN), in any case; SUN ending a range that starts later in
 * the week means 7, so FRI-SUN works.  The macros @yearly, @annually,
 * @monthly, @weekly, @daily, @midnight and @hourly stand for their usual
 * expansions.  As in Vixie cron, a day matches when it matches both the
 * day-of-month and the day-of-week field, except that when neither field
 * starts with '*', matching either one is enough.
 *
 * Occurrences are wall-clock times in a time zone.  A wall-clock time that
 * a daylight-saving change skips fires once, at the first instant after
 * the gap; one that happens twice fires once, at its first occurrence.
 * Both are the rule "wall-clock time L fires at the first instant whose
 * local time is L or later", which also keeps occurrences in order.
 *
 * The search steps field by field (month, day, hour, minute), so even a
 * yearly expression takes a few dozen steps.  An expression none of whose
 * days of the month exists in any of its months is rejected when parsed;
 * every other one matches within the 400 years after which the Gregorian
 * calendar repeats, which bounds the search.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "cron.h"

PG_FUNCTION_INFO_V1(pgjobs_cron_next);

#define CRON_FIELD_COUNT	5

/* CronNext gives up after a 400-year Gregorian cycle and one more year. */
#define CRON_SEARCH_YEARS	401

/* How an error message shows an expression too long to print whole. */
#define CRON_CLIP_LENGTH	40

/* What the parser needs to know about one of the five fields. */
typedef struct CronField
{
	const char *name;			/* in messages: "minute" */
	const char *range;			/* in messages: "minutes range from 0 to 59" */
	int			min;			/* smallest value */
	int			max;			/* largest value that may be written */
	int			last;			/* where '*' and "a/n" end */
	const char *const *names;	/* names of min, min + 1, ...; or NULL */
	const char *names_text;		/* in messages: what a name may be */
} CronField;

static const char *const cron_month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};

static const char *const cron_day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const CronField cron_fields[CRON_FIELD_COUNT] = {
	{
		"minute", "minutes range from 0 to 59",
		0, 59, 59, NULL, NULL
	},
	{
		"hour", "hours range from 0 to 23",
		0, 23, 23, NULL, NULL
	},
	{
		"day-of-month", "days of the month range from 1 to 31",
		1, 31, 31, NULL, NULL
	},
	{
		"month", "months range from 1 to 12",
		1, 12, 12, cron_month_names, "a month name (JAN to DEC)"
	},
	{
		"day-of-week",
		"days of the week range from 0 to 7, where 0 and 7 are both Sunday",
		0, 7, 6, cron_day_names, "a day name (SUN to SAT)"
	},
};

#define CRON_FIELD_DOM	2
#define CRON_FIELD_DOW	4

/* The macros and what they stand for. */
static const struct
{
	const char *name;
	const char *expansion;
}			cron_macros[] = {
	{"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
	{"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"},
	{"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

#define CRON_MACRO_HINT \
	"The macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly."
#define CRON_FIELDS_HINT \
	"A cron expression has five fields: minute, hour, day of month, month and day of week."

/* Days in each month of a common year (index 1-12). */
static const int cron_month_days[13] = {
	0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};

/* A wall-clock minute that CronNext moves forward. */
typedef struct CronCursor
{
	int			year;
	int			month;			/* 1-12 */
	int			day;			/* 1-31 */
	int			hour;
	int			minute;
} CronCursor;

static bool ParseMacro(const char *text, CronSpec *spec, char **detail,
					   char **hint);
static bool ParseField(const CronField *f, const char *text, uint64 *bits,
					   char **detail);
static bool ParseValue(const CronField *f, const char *text, const char **pp,
					   int *value, bool *is_name, char **detail);
static char *UnexpectedText(const CronField *f, const char *text,
							const char *p);
static bool DayMatches(const CronSpec *spec, const CronCursor *c);
static int	DaysInMonth(int year, int month);
static int	NextBit(uint64 bits, int from, int last);
static void CursorNextMonth(CronCursor *c);
static void CursorNextDay(CronCursor *c);
static void CursorNextHour(CronCursor *c);
static void CursorNextMinute(CronCursor *c);
static TimestampTz CursorToTimestamp(const CronCursor *c, pg_tz *tz);

/*
 * IsCronSpace says whether c separates fields: ASCII white space, never a
 * byte of a multibyte character (server encodings are ASCII-safe).
 */
static inline bool
IsCronSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

/* IsCronDigit and IsCronAlpha classify ASCII only, whatever the locale. */
static inline bool
IsCronDigit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
IsCronAlpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * CronTryParse parses expr into *spec.  On a bad expression it returns
 * false with *detail set to a sentence saying what is wrong and where, and
 * *hint to a sentence of advice or NULL; it raises no error of its own, so
 * callers that must not abort (the background worker) can use it.
 */
bool
CronTryParse(const char *expr, CronSpec *spec, char **detail, char **hint)
{
	char	   *copy;
	char	   *p;
	char	   *fields[CRON_FIELD_COUNT];
	uint64		bits[CRON_FIELD_COUNT];
	int			nfields = 0;
	size_t		len;
	int			i;

	*detail = NULL;
	*hint = NULL;
	memset(spec, 0, sizeof(CronSpec));

	if (expr == NULL)
	{
		*detail = pstrdup("The expression is null.");
		return false;
	}
	len = strlen(expr);
	if (len > CRON_MAX_EXPRESSION_LENGTH)
	{
		*detail = psprintf("It is %zu bytes long, but at most %d bytes are allowed.",
						   len, CRON_MAX_EXPRESSION_LENGTH);
		return false;
	}

	/* split a copy into fields at runs of white space */
	copy = pstrdup(expr);
	p = copy;
	while (IsCronSpace(*p))
		p++;
	if (*p == '@')
		return ParseMacro(p, spec, detail, hint);
	while (*p != '\0')
	{
		if (nfields < CRON_FIELD_COUNT)
			fields[nfields] = p;
		nfields++;
		while (*p != '\0' && !IsCronSpace(*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
		while (IsCronSpace(*p))
			p++;
	}

	if (nfields == 0)
	{
		*detail = pstrdup("It is empty.");
		*hint = pstrdup(CRON_FIELDS_HINT);
		return false;
	}
	if (nfields != CRON_FIELD_COUNT)
	{
		if (nfields == 1)
			*detail = pstrdup("It has 1 field, but a cron expression has 5.");
		else
			*detail = psprintf("It has %d fields, but a cron expression has 5.",
							   nfields);
		if (nfields == CRON_FIELD_COUNT + 1)
			*hint = pstrdup("A field for seconds is not supported: the first field is the minute.");
		else
			*hint = pstrdup(CRON_FIELDS_HINT);
		return false;
	}

	for (i = 0; i < CRON_FIELD_COUNT; i++)
	{
		if (!ParseField(&cron_fields[i], fields[i], &bits[i], detail))
			return false;
	}

	/* day of week 7 is Sunday, like 0 */
	if (bits[CRON_FIELD_DOW] & (UINT64CONST(1) << 7))
		bits[CRON_FIELD_DOW] |= UINT64CONST(1);

	spec->minutes = bits[0];
	spec->hours = (uint32) bits[1];
	spec->days_of_month = (uint32) bits[CRON_FIELD_DOM];
	spec->months = (uint16) bits[3];
	spec->days_of_week = (uint8) (bits[CRON_FIELD_DOW] & 0x7F);
	spec->dom_star = (fields[CRON_FIELD_DOM][0] == '*');
	spec->dow_star = (fields[CRON_FIELD_DOW][0] == '*');

	/*
	 * When the day of the month must match, some selected month must have a
	 * selected day.  Every (month, day) pair that exists falls on every day
	 * of the week within 400 years, so nothing else can make an expression
	 * never match.
	 */
	if (spec->dom_star || spec->dow_star)
	{
		bool		possible = false;
		int			m;

		for (m = 1; m <= 12; m++)
		{
			int			ndays = cron_month_days[m] + (m == 2 ? 1 : 0);
			uint64		days = (UINT64CONST(1) << (ndays + 1)) - 2;

			if ((spec->months & (1 << m)) &&
				((uint64) spec->days_of_month & days) != 0)
				possible = true;
		}
		if (!possible)
		{
			*detail = pstrdup("It never matches: none of the months it selects has any of the days of the month it selects.");
			return false;
		}
	}

	pfree(copy);
	return true;
}

/*
 * ParseMacro parses text, which starts with '@', as one of the macros,
 * optionally followed by white space.
 */
static bool
ParseMacro(const char *text, CronSpec *spec, char **detail, char **hint)
{
	const char *end = text;
	const char *rest;
	char	   *name;
	int			i;

	while (*end != '\0' && !IsCronSpace(*end))
		end++;
	name = pnstrdup(text, end - text);
	rest = end;
	while (IsCronSpace(*rest))
		rest++;

	for (i = 0; i < (int) lengthof(cron_macros); i++)
	{
		if (pg_strcasecmp(name, cron_macros[i].name) != 0)
			continue;
		if (*rest != '\0')
		{
			*detail = psprintf("The macro \"%s\" is followed by \"%s\".",
							   name, rest);
			*hint = pstrdup("A macro stands for the whole expression.");
			return false;
		}
		return CronTryParse(cron_macros[i].expansion, spec, detail, hint);
	}

	if (pg_strcasecmp(name, "@reboot") == 0)
		*detail = pstrdup("@reboot is not supported: schedules follow the clock, not server starts.");
	else
		*detail = psprintf("\"%s\" is not a known macro.", name);
	*hint = pstrdup(CRON_MACRO_HINT);
	return false;
}

/*
 * ParseField parses the text of field f into a bitmap of the values it
 * selects (bit n for value n).
 */
static bool
ParseField(const CronField *f, const char *text, uint64 *bits, char **detail)
{
	const char *p = text;
	int			width = f->last - f->min + 1;

	*bits = 0;
	for (;;)
	{
		const char *item = p;
		int			lo;
		int			hi;
		int			step = 1;
		bool		single = false;
		bool		is_name;
		int			v;

		if (*p == '*')
		{
			p++;
			lo = f->min;
			hi = f->last;
		}
		else
		{
			if (!ParseValue(f, text, &p, &lo, &is_name, detail))
				return false;
			hi = lo;
			single = true;
			if (*p == '-')
			{
				p++;
				if (!ParseValue(f, text, &p, &hi, &is_name, detail))
					return false;
				/* FRI-SUN: Sunday ends the week as 7 */
				if (f->names == cron_day_names && is_name && hi == 0 && lo > 0)
					hi = 7;
				if (lo > hi)
				{
					*detail = psprintf("The %s field \"%s\" has the range \"%.*s\", which starts after it ends.",
									   f->name, text, (int) (p - item), item);
					return false;
				}
				single = false;
			}
		}

		if (*p == '/')
		{
			const char *start = ++p;

			if (!IsCronDigit(*p))
			{
				*detail = UnexpectedText(f, text, p);
				return false;
			}
			step = 0;
			while (IsCronDigit(*p))
			{
				/* stop growing once too big; no overflow */
				if (step <= width)
					step = step * 10 + (*p - '0');
				p++;
			}
			if (step < 1 || step > width)
			{
				*detail = psprintf("The %s field \"%s\" has the step %.*s, but a step must be between 1 and %d.",
								   f->name, text, (int) (p - start), start,
								   width);
				return false;
			}
			/* a/n runs from a to the end of the field */
			if (single)
				hi = Max(lo, f->last);
		}

		for (v = lo; v <= hi; v += step)
			*bits |= UINT64CONST(1) << v;

		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == '\0')
			return true;
		*detail = UnexpectedText(f, text, p);
		return false;
	}
}

/*
 * ParseValue reads one value of field f at *pp, a number or (in the month
 * and day-of-week fields) a name, checks its range, and moves *pp past it.
 * text is the whole field, for messages.
 */
static bool
ParseValue(const CronField *f, const char *text, const char **pp,
		   int *value, bool *is_name, char **detail)
{
	const char *start = *pp;
	const char *p = start;

	*is_name = false;
	if (IsCronDigit(*p))
	{
		int			v = 0;

		while (IsCronDigit(*p))
		{
			/* stop growing once out of range; no overflow */
			if (v <= f->max)
				v = v * 10 + (*p - '0');
			p++;
		}
		if (v < f->min || v > f->max)
		{
			*detail = psprintf("The %s field \"%s\" contains %.*s, but %s.",
							   f->name, text, (int) (p - start), start,
							   f->range);
			return false;
		}
		*value = v;
	}
	else if (IsCronAlpha(*p))
	{
		int			i = 0;

		while (IsCronAlpha(*p))
			p++;
		if (f->names != NULL && p - start == 3)
		{
			for (i = 0; f->names[i] != NULL; i++)
			{
				if (pg_strncasecmp(start, f->names[i], 3) == 0)
					break;
			}
		}
		if (f->names == NULL || p - start != 3 || f->names[i] == NULL)
		{
			if (f->names != NULL)
				*detail = psprintf("The %s field \"%s\" contains \"%.*s\", which is neither a number nor %s.",
								   f->name, text, (int) (p - start), start,
								   f->names_text);
			else
				*detail = psprintf("The %s field \"%s\" contains \"%.*s\", which is not a number.",
								   f->name, text, (int) (p - start), start);
			return false;
		}
		*value = f->min + i;
		*is_name = true;
	}
	else
	{
		*detail = UnexpectedText(f, text, p);
		return false;
	}

	*pp = p;
	return true;
}

/*
 * UnexpectedText describes a syntax error at p in the text of field f.  p
 * is always just after ASCII characters, so the rest is valid text.
 */
static char *
UnexpectedText(const CronField *f, const char *text, const char *p)
{
	if (*p == '\0')
		return psprintf("The %s field \"%s\" ends too early.", f->name, text);
	return psprintf("The %s field \"%s\" has unexpected text at \"%s\".",
					f->name, text, p);
}

/*
 * CronParse parses expr into *spec, raising an error for a bad or null
 * expression.
 */
void
CronParse(const char *expr, CronSpec *spec)
{
	char	   *detail;
	char	   *hint;
	size_t		len;

	if (expr == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cron expression must not be null")));

	if (CronTryParse(expr, spec, &detail, &hint))
		return;

	len = strlen(expr);
	if (len > CRON_MAX_EXPRESSION_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid cron expression \"%.*s...\"",
						pg_mbcliplen(expr, CRON_MAX_EXPRESSION_LENGTH,
									 CRON_CLIP_LENGTH),
						expr),
				 errdetail("%s", detail)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid cron expression \"%s\"", expr),
			 errdetail("%s", detail),
			 hint != NULL ? errhint("%s", hint) : 0));
}

/*
 * CronCheck raises an error unless expr is a valid cron expression; for
 * checking a schedule before it is stored.
 */
void
CronCheck(const char *expr)
{
	CronSpec	spec;

	CronParse(expr, &spec);
}

/*
 * CronLookupTimeZone returns the time zone of the given name (as in
 * pg_timezone_names, or a POSIX zone specification), NULL meaning the
 * session's TimeZone.  Unknown names and zones that count leap seconds
 * are errors.
 */
pg_tz *
CronLookupTimeZone(const char *name)
{
	pg_tz	   *tz = NULL;

	if (name == NULL)
		return session_timezone;
	if (strlen(name) <= TZ_STRLEN_MAX)
		tz = pg_tzset(name);
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Use a name from pg_timezone_names, such as \"Europe/Berlin\" or \"UTC\".")));
	if (!pg_tz_acceptable(tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errdetail("PostgreSQL does not support leap seconds.")));
	return tz;
}

/*
 * CronNext returns the first occurrence of spec strictly after "after", in
 * the wall-clock time of tz (NULL: the session's TimeZone).
 *
 * It walks wall-clock minutes forward from the minute holding "after",
 * skipping whole months, days and hours that cannot match, and maps each
 * matching minute to an instant; the first instant after "after" wins.
 * Minutes at or before "after" can still come up when "after" is in the
 * second pass of a repeated hour, whose minutes fired in the first pass.
 */
TimestampTz
CronNext(const CronSpec *spec, TimestampTz after, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	CronCursor	c;
	int			last_year;

	if (spec == NULL)
		elog(ERROR, "cron specification is missing");
	if (TIMESTAMP_NOT_FINITE(after))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot compute the next occurrence after an infinite timestamp")));
	if (tz == NULL)
		tz = session_timezone;
	if (timestamp2tm(after, &tzoff, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));

	c.year = tm.tm_year;
	c.month = tm.tm_mon;
	c.day = tm.tm_mday;
	c.hour = tm.tm_hour;
	c.minute = tm.tm_min;
	last_year = c.year + CRON_SEARCH_YEARS;

	for (;;)
	{
		int			next;
		TimestampTz result;

		if (c.year > last_year)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cron schedule never matches"),
					 errdetail("No occurrence was found within %d years.",
							   CRON_SEARCH_YEARS)));

		if ((spec->months & (1 << c.month)) == 0)
		{
			next = NextBit(spec->months, c.month + 1, 12);
			if (next < 0)
			{
				c.year++;
				next = NextBit(spec->months, 1, 12);
				if (next < 0)
					next = 1;	/* no month at all: run into the limit */
			}
			c.month = next;
			c.day = 1;
			c.hour = 0;
			c.minute = 0;
			continue;
		}
		if (!DayMatches(spec, &c))
		{
			CursorNextDay(&c);
			continue;
		}
		if ((spec->hours & ((uint32) 1 << c.hour)) == 0)
		{
			next = NextBit(spec->hours, c.hour + 1, 23);
			if (next < 0)
				CursorNextDay(&c);
			else
			{
				c.hour = next;
				c.minute = 0;
			}
			continue;
		}
		if ((spec->minutes & (UINT64CONST(1) << c.minute)) == 0)
		{
			next = NextBit(spec->minutes, c.minute + 1, 59);
			if (next < 0)
				CursorNextHour(&c);
			else
				c.minute = next;
			continue;
		}

		result = CursorToTimestamp(&c, tz);
		if (result > after)
			return result;
		CursorNextMinute(&c);
	}
}

/*
 * DayMatches applies the day-of-month and day-of-week fields to the
 * cursor's date, with Vixie cron's rule for combining them.
 */
static bool
DayMatches(const CronSpec *spec, const CronCursor *c)
{
	int			weekday = j2day(date2j(c->year, c->month, c->day));
	bool		dom = (spec->days_of_month & ((uint32) 1 << c->day)) != 0;
	bool		dow = (spec->days_of_week & (1 << weekday)) != 0;

	if (spec->dom_star || spec->dow_star)
		return dom && dow;
	return dom || dow;
}

/* DaysInMonth returns the number of days in a month (1-12) of a year. */
static int
DaysInMonth(int year, int month)
{
	if (month == 2 && isleap(year))
		return 29;
	return cron_month_days[month];
}

/* NextBit returns the lowest set bit of bits in [from, last], or -1. */
static int
NextBit(uint64 bits, int from, int last)
{
	int			i;

	for (i = from; i <= last; i++)
	{
		if (bits & (UINT64CONST(1) << i))
			return i;
	}
	return -1;
}

/* CursorNextMonth moves the cursor to midnight of the next month's 1st. */
static void
CursorNextMonth(CronCursor *c)
{
	c->day = 1;
	c->hour = 0;
	c->minute = 0;
	if (++c->month > 12)
	{
		c->month = 1;
		c->year++;
	}
}

/* CursorNextDay moves the cursor to midnight of the next day. */
static void
CursorNextDay(CronCursor *c)
{
	c->hour = 0;
	c->minute = 0;
	if (++c->day > DaysInMonth(c->year, c->month))
		CursorNextMonth(c);
}

/* CursorNextHour moves the cursor to the start of the next hour. */
static void
CursorNextHour(CronCursor *c)
{
	c->minute = 0;
	if (++c->hour > 23)
		CursorNextDay(c);
}

/* CursorNextMinute moves the cursor to the next minute. */
static void
CursorNextMinute(CronCursor *c)
{
	if (++c->minute > 59)
		CursorNextHour(c);
}

/*
 * CursorToTimestamp returns the instant at which wall-clock minute c fires
 * in tz: the first instant whose local time is c or later.  That is the
 * instant itself for an ordinary local time, the first of the two for one
 * repeated by a fall-back change, and the end of the gap for one skipped
 * by a spring-forward change.
 *
 * Like DetermineTimeZoneOffset, it assumes that zone transitions are at
 * least 48 hours apart, so that the first transition after c - 24 hours
 * is the only one that can matter.
 */
static TimestampTz
CursorToTimestamp(const CronCursor *c, pg_tz *tz)
{
	pg_time_t	local;
	pg_time_t	prevtime;
	pg_time_t	boundary;
	pg_time_t	utc;
	long int	before_gmtoff;
	long int	after_gmtoff;
	int			before_isdst;
	int			after_isdst;
	int			res;

	/* the local time as if it were UTC, in seconds since 1970 */
	local = ((pg_time_t) (date2j(c->year, c->month, c->day) - UNIX_EPOCH_JDATE))
		* SECS_PER_DAY + c->hour * SECS_PER_HOUR + c->minute * SECS_PER_MINUTE;
	prevtime = local - SECS_PER_DAY;

	res = pg_next_dst_boundary(&prevtime, &before_gmtoff, &before_isdst,
							   &boundary, &after_gmtoff, &after_isdst, tz);
	if (res < 0)
		utc = local;			/* cannot happen; treat as UTC, as PG does */
	else if (res == 0)
		utc = local - before_gmtoff;	/* no transition from here on */
	else
	{
		pg_time_t	beforetime = local - before_gmtoff;
		pg_time_t	aftertime = local - after_gmtoff;
		bool		before_valid = beforetime < boundary;
		bool		after_valid = aftertime >= boundary;

		if (before_valid && after_valid)
			utc = Min(beforetime, aftertime);	/* repeated: the first */
		else if (before_valid)
			utc = beforetime;
		else if (after_valid)
			utc = aftertime;
		else
			utc = boundary;		/* skipped: the end of the gap */
	}

	/* to PostgreSQL's epoch, checking the range before scaling */
	utc -= (pg_time_t) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	if (utc < MIN_TIMESTAMP / USECS_PER_SEC ||
		utc >= END_TIMESTAMP / USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("The next occurrence of the cron schedule is out of range.")));
	return (TimestampTz) utc * USECS_PER_SEC;
}

/*
 * pgjobs_cron_next returns the next occurrence of a cron expression after
 * a time, in a time zone's wall-clock time.  Not strict: a null expression
 * is an error, a null time gives null (once the expression and the zone
 * are known to be valid), and a null zone means the session's TimeZone.
 *
 * jobs.cron_next(i_expression, i_after, i_time_zone) -> timestamptz
 */
Datum
pgjobs_cron_next(PG_FUNCTION_ARGS)
{
	CronSpec	spec;
	pg_tz	   *tz = session_timezone;

	if (PG_NARGS() < 1 || PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cron expression must not be null")));
	CronParse(text_to_cstring(PG_GETARG_TEXT_PP(0)), &spec);

	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		char		name[TZ_STRLEN_MAX + 1];

		/* clips overlong names, which then match no zone */
		text_to_cstring_buffer(PG_GETARG_TEXT_PP(2), name, sizeof(name));
		tz = CronLookupTimeZone(name);
	}

	if (PG_NARGS() < 2 || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(CronNext(&spec, PG_GETARG_TIMESTAMPTZ(1), tz));
}
