# Settings of the loopback Swift kit. Sourced by the kit's scripts and by
# tests:  source tests/swift/env.sh
# Only plain exported variables: no `set -e`, no PATH change, safe under `set -u`.
# Override SWIFT_KIT_STATE and the ports in the environment before sourcing
# (and before setup.sh / start.sh); everything else is fixed.

SWIFT_KIT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# All writable state (config, rings, the one device's data, logs, pid files).
SWIFT_KIT_STATE="${SWIFT_KIT_STATE:-/tmp/glint-swift}"

# Loopback only. SWIFT_PORT: the tempauth proxy. SWIFT_KS_PORT: the keystone
# proxy (start.sh --keystone). SWIFT_BACKEND_PORT: object server; container
# and account servers take the next two ports (they are written in the rings).
SWIFT_HOST=127.0.0.1
SWIFT_PORT="${SWIFT_PORT:-8080}"
SWIFT_KS_PORT="${SWIFT_KS_PORT:-8081}"
SWIFT_BACKEND_PORT="${SWIFT_BACKEND_PORT:-6200}"
SWIFT_MEMCACHE_PORT="${SWIFT_MEMCACHE_PORT:-11212}"
SWIFT_URL="http://$SWIFT_HOST:$SWIFT_PORT"

# tempauth (v1 auth): GET $SWIFT_AUTH_URL with X-Auth-User / X-Auth-Key
# answers X-Storage-Url and X-Auth-Token. Accounts are created on first use.
SWIFT_AUTH_URL="$SWIFT_URL/auth/v1.0"
SWIFT_USER=test:tester           # .admin of account AUTH_test
SWIFT_KEY=testing
SWIFT_ACCOUNT=AUTH_test
SWIFT_STORAGE_URL="$SWIFT_URL/v1/$SWIFT_ACCOUNT"
SWIFT_USER2=test2:tester2        # .admin of a second account, AUTH_test2
SWIFT_KEY2=testing2
SWIFT_ACCOUNT2=AUTH_test2
SWIFT_STORAGE_URL2="$SWIFT_URL/v1/$SWIFT_ACCOUNT2"
SWIFT_USER3=test:tester3         # in AUTH_test, not .admin: only what ACLs grant
SWIFT_KEY3=testing3
SWIFT_ADMIN_USER=admin:admin     # .reseller_admin: every account
SWIFT_ADMIN_KEY=admin

# python-swiftclient's own variables (`swift stat`, `swift upload ...`).
ST_AUTH="$SWIFT_AUTH_URL"
ST_USER="$SWIFT_USER"
ST_KEY="$SWIFT_KEY"

# S3 API (s3api middleware on the tempauth proxy): access key = tempauth
# user, secret = its key; path-style URLs, SigV2 or SigV4.
SWIFT_S3_URL="$SWIFT_URL"
SWIFT_S3_ACCESS_KEY="$SWIFT_USER"
SWIFT_S3_SECRET_KEY="$SWIFT_KEY"
SWIFT_S3_REGION=us-east-1

# Keystone variant (start.sh --keystone): a second proxy with authtoken +
# keystoneauth against the keystone kit (tests/keystone). Account of a
# project = AUTH_<project id>; roles admin/member own it, reader reads it.
# The catalog gets service 'swift' (type object-store) pointing here.
SWIFT_KS_URL="http://$SWIFT_HOST:$SWIFT_KS_PORT"
SWIFT_KS_RESELLER_PREFIX=AUTH_
SWIFT_KS_SERVICE_TYPE=object-store
SWIFT_KS_SERVICE_NAME=swift
if [ -f "$SWIFT_KIT_DIR/../keystone/env.sh" ]; then
    # shellcheck source=../keystone/env.sh
    source "$SWIFT_KIT_DIR/../keystone/env.sh"
fi
SWIFT_KS_AUTH_URL="${KEYSTONE_URL_V3:-http://127.0.0.1:35357/v3}"
SWIFT_KS_USER="${KS_SERVICE_USER:-glint}"          # also authtoken's service user
SWIFT_KS_PASSWORD="${KS_SERVICE_PASSWORD:-glint-service-pw}"
SWIFT_KS_PROJECT="${KS_SERVICE_PROJECT:-service}"
SWIFT_KS_DOMAIN_ID="${KS_DOMAIN_ID:-default}"
SWIFT_KS_REGION="${KS_REGION:-RegionOne}"

export SWIFT_KIT_DIR SWIFT_KIT_STATE SWIFT_HOST SWIFT_PORT SWIFT_KS_PORT \
    SWIFT_BACKEND_PORT SWIFT_MEMCACHE_PORT SWIFT_URL SWIFT_AUTH_URL \
    SWIFT_USER SWIFT_KEY SWIFT_ACCOUNT SWIFT_STORAGE_URL \
    SWIFT_USER2 SWIFT_KEY2 SWIFT_ACCOUNT2 SWIFT_STORAGE_URL2 \
    SWIFT_USER3 SWIFT_KEY3 SWIFT_ADMIN_USER SWIFT_ADMIN_KEY \
    ST_AUTH ST_USER ST_KEY \
    SWIFT_S3_URL SWIFT_S3_ACCESS_KEY SWIFT_S3_SECRET_KEY SWIFT_S3_REGION \
    SWIFT_KS_URL SWIFT_KS_RESELLER_PREFIX SWIFT_KS_SERVICE_TYPE \
    SWIFT_KS_SERVICE_NAME SWIFT_KS_AUTH_URL SWIFT_KS_USER SWIFT_KS_PASSWORD \
    SWIFT_KS_PROJECT SWIFT_KS_DOMAIN_ID SWIFT_KS_REGION
