#!/bin/sh
# One greylist Redis of the cluster (moat/redis image, user redis). The config lives in /data, writable,
# because Sentinel rewrites it (CONFIG REWRITE) when it turns this server into a master or a replica:
# after a failover a restarted server keeps the role Sentinel gave it instead of the one it started with.
# MOAT_REDIS_REPLICAOF (host): start as that master's replica. MOAT_REDIS_ANNOUNCE_IP: the address other
# hosts reach this one at (multi-host: the host's address; unset on one Docker network).
# MOAT_REDIS_PASSWORD_FILE (the compose files: the redis_password secret) or MOAT_REDIS_PASSWORD: the
# password clients and replicas log in with. It is set anew at every start, so changing the secret and
# restarting every Redis, Sentinel and mx service rotates it; no password leaves the server open to the
# stack's network.
set -eu
conf=/data/redis.conf
. /usr/local/lib/moat/redis-password.sh
moat_redis_password redis.sh
if [ ! -s "$conf" ]; then
  {
    echo "bind 0.0.0.0"
    echo "protected-mode no"
    echo "port 6379"
    echo "dir /data"
    echo "appendonly yes"
    echo 'save ""'
    echo 'logfile ""'
    if [ -n "${MOAT_REDIS_ANNOUNCE_IP:-}" ]; then echo "replica-announce-ip ${MOAT_REDIS_ANNOUNCE_IP}"; fi
    if [ -n "${MOAT_REDIS_REPLICAOF:-}" ]; then echo "replicaof ${MOAT_REDIS_REPLICAOF} 6379"; fi
  } >"$conf"
fi
# The password lines of an earlier start (or none) are replaced by the current ones; `user default` is the
# form a CONFIG REWRITE leaves, and it would win over a new requirepass.
umask 077
rc=0
grep -v -e '^requirepass ' -e '^masterauth ' -e '^user default ' "$conf" >"$conf.new" || rc=$?
if [ "$rc" -gt 1 ]; then echo "redis.sh: cannot read $conf" >&2; exit 1; fi
if [ -n "${MOAT_REDIS_PASSWORD:-}" ]; then
  echo "requirepass ${MOAT_REDIS_PASSWORD}" >>"$conf.new"
  echo "masterauth ${MOAT_REDIS_PASSWORD}" >>"$conf.new"
fi
mv "$conf.new" "$conf"
exec redis-server "$conf"
