#!/usr/bin/env bash
# test/valgrind/selftest.sh: shows that test/valgrind/run.sh sees a memory
# error in an extension's code, so that its "0 errors in pgjobs" means
# something.
#
#   bash test/valgrind/selftest.sh
#
# Builds, in a temporary directory (nothing is installed), a tiny library
# whose one function branches on an undefined stack value, calls it from a
# single-user backend under valgrind, and summarizes the logs with
# `run.sh --scan`, telling it that this library's frames are the ones to
# count.  Passes when exactly that error is found.  Needs valgrind,
# PostgreSQL's server headers and a C compiler.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
. scripts/lib.sh

DIR=$(mktemp -d /tmp/pgjobs-vgselftest.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
chmod 755 "$DIR"
[ "$(id -u)" = 0 ] && chown postgres: "$DIR"
mkdir -p "$DIR/probe" "$DIR/vg"
chmod 777 "$DIR/vg"

cat >"$DIR/probe/pgjobs_vgprobe.c" <<'EOF'
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(pgjobs_vgprobe);

/* pgjobs_vgprobe branches on an undefined stack value: memcheck must say so */
Datum
pgjobs_vgprobe(PG_FUNCTION_ARGS)
{
	volatile int undefined[4];

	if (undefined[PG_GETARG_INT32(0) & 3] > 0)
		PG_RETURN_INT32(1);
	PG_RETURN_INT32(0);
}
EOF
# shellcheck disable=SC2016  # a Makefile: its $(...) are make's
printf 'MODULES = pgjobs_vgprobe\nPG_CONFIG ?= pg_config\nPGXS := $(shell $(PG_CONFIG) --pgxs)\ninclude $(PGXS)\n' \
    >"$DIR/probe/Makefile"
make -s -C "$DIR/probe" PG_CONFIG="$PG_CONFIG" PG_CFLAGS="-O0" >"$DIR/build.log" 2>&1 ||
    { cat "$DIR/build.log"; echo "selftest: build failed"; exit 2; }
chmod -R a+rX "$DIR/probe"
cp test/valgrind/postgresql.supp "$DIR/" && chmod 644 "$DIR/postgresql.supp"

as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync >"$DIR/initdb.log" 2>&1 ||
    { cat "$DIR/initdb.log"; echo "selftest: initdb failed"; exit 2; }
printf "CREATE FUNCTION probe(int) RETURNS int AS '%s', 'pgjobs_vgprobe' LANGUAGE C;\nSELECT probe(i) FROM generate_series(1, 3) i;\n" \
    "$DIR/probe/pgjobs_vgprobe.so" |
    as_pg valgrind --quiet --track-origins=yes --num-callers=50 --leak-check=no \
        --suppressions="$DIR/postgresql.supp" --log-file="$DIR/vg/%p.log" \
        "$PGBIN/postgres" --single -D "$DIR/data" postgres >"$DIR/server.log" 2>&1

PGJOBS_VG_SO="$DIR/probe/pgjobs_vgprobe.so" bash "$ROOT/test/valgrind/run.sh" --scan "$DIR" | tee "$DIR/scan.out"
if grep -q '^valgrind: 1 errors in pgjobs$' "$DIR/scan.out" &&
   grep -q 'pgjobs_vgprobe (pgjobs_vgprobe.c:' "$DIR/pgjobs-errors.txt"; then
    echo "selftest: ok, the planted error was found"
    exit 0
fi
echo "selftest: FAILED, the planted error was not found as expected"
exit 1
