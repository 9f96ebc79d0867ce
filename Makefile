# pgjobs: PGXS build.  `make && make install`, then `make installcheck`
# against a running server that preloads nothing (see scripts/test.sh).

EXTENSION = pgjobs
EXTVERSION = $(shell grep default_version $(EXTENSION).control | \
	sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = pgjobs
OBJS = \
	src/pgjobs.o \
	src/catalog.o \
	src/publish.o \
	src/consume.o \
	src/ack.o \
	src/retry.o \
	src/expire.o \
	src/shmem.o \
	src/wakeup.o \
	src/limits.o \
	src/cursor.o \
	src/notify.o \
	src/worker.o \
	src/control.o \
	src/cron.o

HEADERS = src/pgjobs.h src/compat.h src/cron.h

# The install script of the current version is built from the single
# source sql/pgjobs.sql; the install scripts of released versions are kept,
# frozen, in sql/released/ (the upgrade test installs them), and the
# upgrade scripts between versions are hand-written.
DATA = $(wildcard sql/*--*--*.sql) $(wildcard sql/released/*.sql)
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql

# Regression inputs live in test/sql, isolation specs in test/specs; all
# expected output is in the top-level expected/ (test/expected links to it,
# because PostgreSQL 15's pg_regress reads <inputdir>/expected).
TESTS = $(sort $(wildcard test/sql/*.sql))
REGRESS = $(patsubst test/sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --inputdir=test --load-extension=$(EXTENSION)

ISOLATION_SPECS = $(sort $(wildcard test/specs/*.spec))
ISOLATION = $(patsubst test/specs/%.spec,%,$(ISOLATION_SPECS))
ISOLATION_OPTS = --inputdir=test --load-extension=$(EXTENSION)

EXTRA_CLEAN = results output_iso regression.diffs regression.out tmp_check log

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

.PHONY: prove_installcheck pgtap_installcheck

# TAP tests (test/t/*.pl) start clusters of their own.
PROVE_TESTS = test/t/*.pl
PROVE_FLAGS = -I test/t

prove_installcheck:
	$(prove_installcheck)

# pgTAP API-contract tests run against the server PGHOST/PGPORT name.
pgtap_installcheck:
	pg_prove --ext .sql test/pgtap/
