# Settings of the loopback keystone kit. Sourced by the kit's scripts and by
# tests:  source tests/keystone/env.sh
# Only plain exported variables: no `set -e`, no PATH change, safe under `set -u`.
# Override KEYSTONE_STATE / KEYSTONE_PORT in the environment before sourcing
# (and before setup.sh / start.sh); everything else is fixed.

KS_KIT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# All writable state (venv, SQLite DB, keys, config, logs, pid file).
KEYSTONE_STATE="${KEYSTONE_STATE:-/tmp/glint-keystone}"

# Loopback only.
KEYSTONE_HOST=127.0.0.1
KEYSTONE_PORT="${KEYSTONE_PORT:-35357}"
KEYSTONE_URL="http://$KEYSTONE_HOST:$KEYSTONE_PORT"     # auth_url / www_authenticate_uri
KEYSTONE_URL_V3="$KEYSTONE_URL/v3"                      # identity endpoint in the catalog

KS_REGION=RegionOne
KS_DOMAIN_ID=default             # every user and project lives in this domain
KS_DOMAIN_NAME=Default
KS_USER_DOMAIN_NAME=Default
KS_PROJECT_DOMAIN_NAME=Default

# Cloud admin (keystone-manage bootstrap): role admin on project admin + system.
KS_ADMIN_USER=admin
KS_ADMIN_PASSWORD=glint-admin-pw
KS_ADMIN_PROJECT=admin

# Service account of the image service (what keystonemiddleware calls
# [keystone_authtoken] username/password/project_name): roles service + admin
# on project service.
KS_SERVICE_USER=glint
KS_SERVICE_PASSWORD=glint-service-pw
KS_SERVICE_PROJECT=service

# End users.
KS_ALICE_USER=alice              # member + reader on alpha
KS_ALICE_PASSWORD=alice-pw
KS_ALICE_PROJECT=alpha
KS_BOB_USER=bob                  # member + reader on beta
KS_BOB_PASSWORD=bob-pw
KS_BOB_PROJECT=beta
KS_RITA_USER=rita                # reader only on alpha
KS_RITA_PASSWORD=rita-pw
KS_RITA_PROJECT=alpha

# The catalog entry that start.sh IMAGE_URL points at the server under test.
KS_IMAGE_SERVICE_TYPE=image
KS_IMAGE_SERVICE_NAME=glance

export KS_KIT_DIR KEYSTONE_STATE KEYSTONE_HOST KEYSTONE_PORT KEYSTONE_URL \
    KEYSTONE_URL_V3 KS_REGION KS_DOMAIN_ID KS_DOMAIN_NAME KS_USER_DOMAIN_NAME \
    KS_PROJECT_DOMAIN_NAME KS_ADMIN_USER KS_ADMIN_PASSWORD KS_ADMIN_PROJECT \
    KS_SERVICE_USER KS_SERVICE_PASSWORD KS_SERVICE_PROJECT \
    KS_ALICE_USER KS_ALICE_PASSWORD KS_ALICE_PROJECT \
    KS_BOB_USER KS_BOB_PASSWORD KS_BOB_PROJECT \
    KS_RITA_USER KS_RITA_PASSWORD KS_RITA_PROJECT \
    KS_IMAGE_SERVICE_TYPE KS_IMAGE_SERVICE_NAME
