#!/bin/sh
# One greylist Redis of the cluster (moat/redis image, user redis). The config lives in /data, writable,
# because Sentinel rewrites it (CONFIG REWRITE) when it turns this server into a master or a replica:
# after a failover a restarted server keeps the role Sentinel gave it instead of the one it started with.
# MOAT_REDIS_REPLICAOF (host): start as that master's replica. MOAT_REDIS_ANNOUNCE_IP: the address other
# hosts reach this one at (multi-host: the host's address; unset on one Docker network).
set -eu
conf=/data/redis.conf
if [ ! -s "$conf" ]; then
  {
    echo "bind 0.0.0.0"
    echo "protected-mode no"
    echo "port 6379"
    echo "dir /data"
    echo "appendonly yes"
    echo 'save ""'
    echo 'logfile ""'
    if [ -n "${MOAT_REDIS_PASSWORD:-}" ]; then
      echo "requirepass ${MOAT_REDIS_PASSWORD}"
      echo "masterauth ${MOAT_REDIS_PASSWORD}"
    fi
    if [ -n "${MOAT_REDIS_ANNOUNCE_IP:-}" ]; then echo "replica-announce-ip ${MOAT_REDIS_ANNOUNCE_IP}"; fi
    if [ -n "${MOAT_REDIS_REPLICAOF:-}" ]; then echo "replicaof ${MOAT_REDIS_REPLICAOF} 6379"; fi
  } >"$conf"
fi
exec redis-server "$conf"
