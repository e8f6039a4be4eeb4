#!/usr/bin/env bash
# Settings of the loopback Ceph kit. Sourced by the kit's scripts and by
# tests:  source tests/ceph/env.sh
# Only plain exported variables: no `set -e`, no PATH change, safe under `set -u`.
# Override CEPH_KIT_STATE and the *_PORT variables in the environment before
# sourcing (and before setup.sh / start.sh); everything else is fixed.

CEPH_KIT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# All writable state (config, keyrings, mon store, OSD block file, logs, pids).
CEPH_KIT_STATE="${CEPH_KIT_STATE:-/tmp/glint-ceph}"

# Loopback only. The mon address is baked into the monmap: changing either
# mon port needs `setup.sh --reset`. The rgw port can change at any start.
CEPH_HOST=127.0.0.1
CEPH_MON_PORT="${CEPH_MON_PORT:-3300}"          # msgr v2 (what librados 14+ uses)
CEPH_MON_V1_PORT="${CEPH_MON_V1_PORT:-6789}"    # legacy msgr v1
CEPH_RGW_PORT="${CEPH_RGW_PORT:-7480}"
# OSD and mgr take a few ports each from this range (msgr v1 + v2).
CEPH_DAEMON_PORT_MIN="${CEPH_DAEMON_PORT_MIN:-6800}"
CEPH_DAEMON_PORT_MAX="${CEPH_DAEMON_PORT_MAX:-7300}"

# librados / librbd / the ceph, rbd, rados and radosgw-admin CLIs read this.
CEPH_CONF="$CEPH_KIT_STATE/ceph.conf"
CEPH_MON_HOST="[v2:$CEPH_HOST:$CEPH_MON_PORT,v1:$CEPH_HOST:$CEPH_MON_V1_PORT]"
CEPH_ADMIN_KEYRING="$CEPH_KIT_STATE/keys/ceph.client.admin.keyring"

# RBD (what Glance calls rbd_store_pool / rbd_store_user / rbd_store_ceph_conf).
CEPH_RBD_POOL=images
CEPH_RBD_USER=glint                 # cephx id; the entity is client.glint
CEPH_RBD_CLIENT=client.glint
CEPH_RBD_KEYRING="$CEPH_KIT_STATE/keys/ceph.client.glint.keyring"

# S3 (radosgw). Path-style addressing; the bucket exists after start.sh.
CEPH_S3_ENDPOINT="http://$CEPH_HOST:$CEPH_RGW_PORT"
CEPH_S3_ACCESS_KEY=GLINTCEPHKITACCESS01
CEPH_S3_SECRET_KEY=glint-ceph-kit-secret-key-0123456789abcd
CEPH_S3_REGION=us-east-1            # any name signs; us-east-1 means no LocationConstraint
CEPH_S3_BUCKET=glint-images
CEPH_RGW_UID=glint                  # the radosgw user owning the keys above

# Swift API of the same radosgw (TempAuth-style v1 auth). The subuser belongs
# to CEPH_RGW_UID, so Swift containers and S3 buckets are one namespace.
CEPH_SWIFT_AUTH_URL="http://$CEPH_HOST:$CEPH_RGW_PORT/auth/1.0"
CEPH_SWIFT_USER=glint:swift
CEPH_SWIFT_KEY=glint-ceph-kit-swift-key
CEPH_SWIFT_CONTAINER=glint-swift    # a name for tests; not created by the kit

export CEPH_KIT_DIR CEPH_KIT_STATE CEPH_HOST CEPH_MON_PORT CEPH_MON_V1_PORT \
    CEPH_RGW_PORT CEPH_DAEMON_PORT_MIN CEPH_DAEMON_PORT_MAX CEPH_CONF \
    CEPH_MON_HOST CEPH_ADMIN_KEYRING CEPH_RBD_POOL CEPH_RBD_USER \
    CEPH_RBD_CLIENT CEPH_RBD_KEYRING CEPH_S3_ENDPOINT CEPH_S3_ACCESS_KEY \
    CEPH_S3_SECRET_KEY CEPH_S3_REGION CEPH_S3_BUCKET CEPH_RGW_UID \
    CEPH_SWIFT_AUTH_URL CEPH_SWIFT_USER CEPH_SWIFT_KEY CEPH_SWIFT_CONTAINER

# Run (not sourced): print the settings as shell lines, for eval "$(env.sh)".
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    for _v in CEPH_KIT_DIR CEPH_KIT_STATE CEPH_HOST CEPH_MON_PORT CEPH_MON_V1_PORT \
        CEPH_RGW_PORT CEPH_DAEMON_PORT_MIN CEPH_DAEMON_PORT_MAX CEPH_CONF \
        CEPH_MON_HOST CEPH_ADMIN_KEYRING CEPH_RBD_POOL CEPH_RBD_USER \
        CEPH_RBD_CLIENT CEPH_RBD_KEYRING CEPH_S3_ENDPOINT CEPH_S3_ACCESS_KEY \
        CEPH_S3_SECRET_KEY CEPH_S3_REGION CEPH_S3_BUCKET CEPH_RGW_UID \
        CEPH_SWIFT_AUTH_URL CEPH_SWIFT_USER CEPH_SWIFT_KEY CEPH_SWIFT_CONTAINER; do
        printf 'export %s=%q\n' "$_v" "${!_v}"
    done
    unset _v
fi
