#!/usr/bin/env bash
# Builds and installs pgjobs, starts a throwaway cluster, runs scripts/demo.sql
# (publish from SQL and from a trigger, consume, ack, nack, expiry, the views)
# and stops the cluster again.
set -eu
cd "$(dirname "$0")/.."
. scripts/lib.sh
install_deps
build_install
cluster_start
psql -X -e -f scripts/demo.sql
