#!/bin/sh
# One of the cluster's three Redis Sentinels (moat/redis image, user redis). Sentinel rewrites its own
# file as it learns the topology (which server is master now, the other Sentinels, the epoch), so the
# file is written once into /data and kept: a restarted Sentinel must not forget a failover.
# MOAT_REDIS_MASTER: the master's address at first start. MOAT_SENTINEL_RANK (0, 1, 2) staggers the
# down-after time by a second per rank: Sentinels that notice an outage in the same instant each vote for
# themselves, and that split vote costs a whole failover-timeout before the next try. Quorum 2 of 3: any
# two Sentinels agree that the master is down, a majority authorises the failover, so losing one node
# still allows a failover.
set -eu
conf=/data/sentinel.conf
name=${MOAT_SENTINEL_NAME:-moat}
down_after=$(( ${MOAT_SENTINEL_DOWN_AFTER:-5000} + ${MOAT_SENTINEL_RANK:-0} * 1000 ))
if [ ! -s "$conf" ]; then
  {
    echo "port 26379"
    echo "bind 0.0.0.0"
    echo "protected-mode no"
    echo "dir /data"
    echo 'logfile ""'
    echo "sentinel resolve-hostnames yes"
    # Multi-host (stack.swarm.yml): Sentinels and servers are known by service name, since task
    # addresses change when a task is rescheduled.
    if [ -n "${MOAT_SENTINEL_ANNOUNCE_IP:-}" ]; then echo "sentinel announce-ip ${MOAT_SENTINEL_ANNOUNCE_IP}"; fi
    if [ "${MOAT_SENTINEL_ANNOUNCE_HOSTNAMES:-no}" = yes ]; then echo "sentinel announce-hostnames yes"; fi
    echo "sentinel monitor ${name} ${MOAT_REDIS_MASTER:?set MOAT_REDIS_MASTER} 6379 ${MOAT_SENTINEL_QUORUM:-2}"
    echo "sentinel down-after-milliseconds ${name} ${down_after}"
    echo "sentinel failover-timeout ${name} ${MOAT_SENTINEL_FAILOVER_TIMEOUT:-30000}"
    echo "sentinel parallel-syncs ${name} 1"
    if [ -n "${MOAT_REDIS_PASSWORD:-}" ]; then echo "sentinel auth-pass ${name} ${MOAT_REDIS_PASSWORD}"; fi
  } >"$conf"
fi
exec redis-server "$conf" --sentinel
