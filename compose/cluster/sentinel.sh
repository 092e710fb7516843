#!/bin/sh
# One of the cluster's three Redis Sentinels (moat/redis image, user redis). Sentinel rewrites its own
# file as it learns the topology (which server is master now, the other Sentinels, the epoch), so the
# file is written once into /data and kept: a restarted Sentinel must not forget a failover.
# MOAT_REDIS_MASTER: the master's address at first start. MOAT_SENTINEL_RANK (0, 1, 2) staggers the
# down-after time by a second per rank: Sentinels that notice an outage in the same instant each vote for
# themselves, and that split vote costs a whole failover-timeout before the next try. Quorum 2 of 3: any
# two Sentinels agree that the master is down, a majority authorises the failover, so losing one node
# still allows a failover.
# MOAT_REDIS_PASSWORD_FILE (the compose files: the redis_password secret) or MOAT_REDIS_PASSWORD: the
# Redis servers' password (`auth-pass`), and the Sentinels' own (`requirepass`, and `sentinel-pass` to
# reach each other): one secret for the whole store. Set anew at every start, like redis.sh.
set -eu
conf=/data/sentinel.conf
. /usr/local/lib/moat/redis-password.sh
moat_redis_password sentinel.sh
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
  } >"$conf"
fi
# The password lines of an earlier start are replaced by the current ones; `user default` is the form
# Sentinel's own rewrite leaves, and it would win over a new requirepass.
umask 077
rc=0
grep -v -e '^requirepass ' -e '^user default ' -e "^sentinel auth-pass ${name} " -e '^sentinel sentinel-pass ' "$conf" >"$conf.new" || rc=$?
if [ "$rc" -gt 1 ]; then echo "sentinel.sh: cannot read $conf" >&2; exit 1; fi
if [ -n "${MOAT_REDIS_PASSWORD:-}" ]; then
  echo "requirepass ${MOAT_REDIS_PASSWORD}" >>"$conf.new"
  echo "sentinel auth-pass ${name} ${MOAT_REDIS_PASSWORD}" >>"$conf.new"
  echo "sentinel sentinel-pass ${MOAT_REDIS_PASSWORD}" >>"$conf.new"
fi
mv "$conf.new" "$conf"
exec redis-server "$conf" --sentinel
