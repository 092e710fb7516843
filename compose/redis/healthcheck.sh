#!/bin/sh
# Healthy when this Redis answers PONG, or (--sentinel) when this Sentinel names a master, logged in with
# the stack's Redis password if it has one (MOAT_REDIS_PASSWORD_FILE or MOAT_REDIS_PASSWORD): a server that
# wants a password answers NOAUTH, which is not healthy.
set -eu
. /usr/local/lib/moat/redis-password.sh
moat_redis_password redis-healthcheck
if [ -n "${MOAT_REDIS_PASSWORD:-}" ]; then
  REDISCLI_AUTH=$MOAT_REDIS_PASSWORD
  export REDISCLI_AUTH
fi
if [ "${1:-}" = --sentinel ]; then
  # two lines, host and port; an error is one line of text
  redis-cli -p 26379 sentinel get-master-addr-by-name "${MOAT_SENTINEL_NAME:-moat}" | grep -qx '[0-9][0-9]*'
else
  redis-cli ping | grep -qx PONG
fi
