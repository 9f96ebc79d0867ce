# scripts/lib.sh: shared by the demo, test and bench scripts (sourced, not run).
# Starts and stops a throwaway PostgreSQL cluster owned by the postgres OS user,
# in a temporary directory, on a non-default port, reachable only through a
# Unix socket in that directory.

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
[ -x "$PG_CONFIG" ] || PG_CONFIG=$(command -v pg_config)
PGBIN=$("$PG_CONFIG" --bindir)
# the pgxs tree: .../lib/pgxs (pg_config --pgxs names .../lib/pgxs/src/makefiles/pgxs.mk)
PGXS_DIR=$(cd "$(dirname "$("$PG_CONFIG" --pgxs)")/../.." && pwd)
export PG_CONFIG PGBIN

# as_pg runs a command as the postgres OS user (PostgreSQL refuses root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# as_root runs a command with the rights to install into the server's directories.
as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# install_deps installs the Debian packages the project needs, if any is missing.
install_deps() {
    local pkgs="make gcc libc6-dev postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
                libtap-parser-sourcehandler-pgtap-perl libipc-run-perl perl
                python3-asyncpg python3-pytest python3-pytest-asyncio
                prometheus-postgres-exporter curl"
    local missing=""
    for p in $pkgs; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null || return 1
    # Where systemd runs, the exporter package starts a service listening on
    # every address (:9187); the tests start their own exporter on loopback.
    case " $missing " in
        *" prometheus-postgres-exporter "*)
            if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
                as_root systemctl disable --now prometheus-postgres-exporter >/dev/null 2>&1
            fi ;;
    esac
    return 0
}

# build_install builds the extension and installs it into the server.
build_install() {
    make -s PG_CONFIG="$PG_CONFIG" ${PG_CFLAGS:+PG_CFLAGS="$PG_CFLAGS"} >/dev/null
    as_root make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# cluster_start [conf-line...] initdbs and starts a cluster, exporting
# PGHOST/PGPORT/PGUSER/PGDATABASE for it, and arranges for it to stop on exit.
cluster_start() {
    CLUSTER_DIR=$(mktemp -d /tmp/pgjobs-cluster.XXXXXX)
    chmod 755 "$CLUSTER_DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$CLUSTER_DIR"
    export PGPORT=${PGJOBS_PORT:-$(( 55000 + RANDOM % 5000 ))}
    export PGHOST=$CLUSTER_DIR PGUSER=postgres PGDATABASE=postgres
    as_pg "$PGBIN/initdb" -D "$CLUSTER_DIR/data" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1 ||
        { cat "$CLUSTER_DIR/initdb.log"; return 1; }
    {
        echo "port = $PGPORT"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$CLUSTER_DIR'"
        echo "max_connections = 50"
        echo "log_min_messages = warning"
        for line in "$@"; do echo "$line"; done
    } | as_pg tee -a "$CLUSTER_DIR/data/postgresql.conf" >/dev/null
    trap cluster_stop EXIT
    as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -s start ||
        { cat "$CLUSTER_DIR/server.log"; return 1; }
}

# cluster_stop stops the cluster and removes its directory (idempotent).
cluster_stop() {
    [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ] || return 0
    as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate -w -s stop >/dev/null 2>&1
    rm -rf "$CLUSTER_DIR"
    CLUSTER_DIR=
}
