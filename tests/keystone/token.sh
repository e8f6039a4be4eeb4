#!/usr/bin/env bash
# Print a project-scoped token id from the kit's keystone (password auth;
# user and project in domain Default). Exit 1 and show keystone's answer on
# stderr if it refuses.
#
#   token.sh USER PASSWORD PROJECT
#   e.g.  TOKEN=$(tests/keystone/token.sh "$KS_ALICE_USER" "$KS_ALICE_PASSWORD" "$KS_ALICE_PROJECT")
set -euo pipefail
# shellcheck source=env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
if [ $# -ne 3 ]; then sed -n '2,7p' "$0" >&2; exit 2; fi

json() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
body=$(cat <<JSON
{"auth": {"identity": {"methods": ["password"], "password": {"user": {
   "name": $(json "$1"), "domain": {"name": $(json "$KS_USER_DOMAIN_NAME")},
   "password": $(json "$2")}}},
 "scope": {"project": {"name": $(json "$3"),
   "domain": {"name": $(json "$KS_PROJECT_DOMAIN_NAME")}}}}}
JSON
)
# ?nocatalog: smaller answer; the id is in the X-Subject-Token header
resp=$(curl -sS -i --max-time 30 -H 'Content-Type: application/json' \
    --data-binary "$body" "$KEYSTONE_URL_V3/auth/tokens?nocatalog") ||
    { echo "token.sh: no answer from $KEYSTONE_URL_V3" >&2; exit 1; }
token=$(printf '%s\n' "$resp" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: *//p' | head -n 1)
if [ -z "$token" ]; then
    echo "token.sh: keystone refused $1 on $3:" >&2
    printf '%s\n' "$resp" | tr -d '\r' | sed -n '1p;/^{/p' >&2
    exit 1
fi
echo "$token"
