#!/bin/sh
# Runs spamd with moat's site config plus runtime settings from the environment, as debian-spamd.
# Talks to: the MX (scan requests on 783), the stack's Unbound (DNS tests), optionally Redis (Bayes).
#   MOAT_SPAMD_DNS               resolver (IP or IP:port) for SpamAssassin's DNS tests; unset: no DNS tests
#   MOAT_SPAMD_TRUSTED_NETWORKS  extra trusted relays (space-separated CIDRs)
#   MOAT_SPAMD_BAYES_REDIS       host:port[/db]: shared Bayes in one Redis (unset: no Bayes, unless...)
#   MOAT_SPAMD_BAYES_SENTINELS   host:port,...: shared Bayes in the Redis master these Sentinels name, through
#                                redis-master-proxy.pl on 127.0.0.1:6380 (MOAT_SPAMD_BAYES_SENTINEL_NAME, default moat)
#   MOAT_SPAMD_BAYES_DB          Redis database for Bayes with the Sentinels (default 2; the greylist uses 0)
#   MOAT_REDIS_PASSWORD_FILE     the Redis (and Sentinel) password, for Bayes (the redis_password secret)
#   MOAT_SPAMD_ALLOW_TELL        1/0: accept TELL (`moat learn`, spamc -L); default 1 when Bayes is on
#   MOAT_SPAMD_BAYES_MIN_LEARNED spam and ham learned before Bayes scores (SpamAssassin: 200; tests lower it)
#   MOAT_SPAMD_BAYES_AUTO_LEARN  1/0: learn from spamd's own clear verdicts (default 1; tests turn it off)
#   MOAT_SPAMD_ALLOWED_IPS       who may scan (default: loopback and private 172.16/12)
#   MOAT_SPAMD_LISTEN            listen address (default 0.0.0.0:783)
# For tests on a host: MOAT_SPAMD_SITE_DIR (where the site config is written), MOAT_SPAMD_ETC (where the image's
# .pre/.cf files are read, default /etc/spamassassin), MOAT_SPAMD_SITE_ONLY=1 (write the site config and exit).
set -eu
SITE="${MOAT_SPAMD_SITE_DIR:-/tmp/moat-spamassassin}"
ETC="${MOAT_SPAMD_ETC:-/etc/spamassassin}"
rm -rf "$SITE"
mkdir -p "$SITE"
cp "$ETC"/*.pre "$ETC"/*.cf "$SITE"/
# SpamAssassin reads a directory's .cf files in name order (C locale: digits, then upper case, then lower
# case), and a later setting wins. Both runtime files start with zz_ so they come after local.cf and
# moat-dnsbl.cf: local.cf's defaults (dns_available no, use_bayes 0) are overridden by the environment.
# (An earlier 99_moat_runtime.cf sorted BEFORE local.cf, so MOAT_SPAMD_DNS never turned DNS tests on.)
RUNTIME="$SITE/zz_moat_runtime.cf"
: >"$RUNTIME"
BAYES_CF="$SITE/zz_moat_bayes.cf"
: >"$BAYES_CF"
if [ -n "${MOAT_SPAMD_DNS:-}" ]; then
  {
    echo "dns_available yes"
    echo "clear_dns_servers"
    echo "dns_server ${MOAT_SPAMD_DNS}"
  } >>"$RUNTIME"
fi
for n in ${MOAT_SPAMD_TRUSTED_NETWORKS:-}; do
  echo "trusted_networks $n" >>"$RUNTIME"
  echo "internal_networks $n" >>"$RUNTIME"
done
hostport=""
db="${MOAT_SPAMD_BAYES_DB:-2}"
if [ -n "${MOAT_SPAMD_BAYES_SENTINELS:-}" ]; then
  # SpamAssassin's Redis store takes one server and knows no Sentinel: it talks to this loopback forwarder,
  # which follows the master (compose/spamassassin/README.md). Restarted if it ever exits; reparented to tini.
  hostport=127.0.0.1:6380
  [ "${MOAT_SPAMD_SITE_ONLY:-0}" = 1 ] || (
    MOAT_BAYES_SENTINELS="$MOAT_SPAMD_BAYES_SENTINELS" MOAT_BAYES_SENTINEL_NAME="${MOAT_SPAMD_BAYES_SENTINEL_NAME:-moat}" \
      MOAT_BAYES_PROXY_LISTEN="$hostport" \
      sh -c 'while :; do perl /usr/local/lib/moat/redis-master-proxy.pl; echo "redis-master-proxy exited ($?); restarting" >&2; sleep 1; done' &
  )
elif [ -n "${MOAT_SPAMD_BAYES_REDIS:-}" ]; then
  hostport="${MOAT_SPAMD_BAYES_REDIS%%/*}"
  case "$MOAT_SPAMD_BAYES_REDIS" in */*) db="${MOAT_SPAMD_BAYES_REDIS##*/}" ;; esac
fi
if [ -n "$hostport" ]; then
  password=""
  if [ -n "${MOAT_REDIS_PASSWORD_FILE:-}" ]; then
    password=$(cat "$MOAT_REDIS_PASSWORD_FILE")
    password=${password%"$(printf '\r')"}
    if [ -z "$password" ]; then echo "moat-spamd: $MOAT_REDIS_PASSWORD_FILE is empty" >&2; exit 64; fi
    # bayes_sql_dsn is `key=value;...`: a ';' or a space would cut the password short
    case "$password" in *[[:space:]\;]*) echo "moat-spamd: the Redis password must not contain spaces or ';'" >&2; exit 64 ;; esac
    password=";password=${password}"
  fi
  cat >>"$BAYES_CF" <<CF
use_bayes 1
bayes_auto_learn ${MOAT_SPAMD_BAYES_AUTO_LEARN:-1}
bayes_store_module Mail::SpamAssassin::BayesStore::Redis
bayes_sql_dsn server=${hostport}${password};database=${db}
bayes_token_ttl 21d
bayes_seen_ttl 8d
bayes_auto_expire 1
CF
  if [ -n "${MOAT_SPAMD_BAYES_MIN_LEARNED:-}" ]; then
    echo "bayes_min_spam_num ${MOAT_SPAMD_BAYES_MIN_LEARNED}" >>"$BAYES_CF"
    echo "bayes_min_ham_num ${MOAT_SPAMD_BAYES_MIN_LEARNED}" >>"$BAYES_CF"
  fi
fi
TELL_ARGS=""
if [ "${MOAT_SPAMD_ALLOW_TELL:-$([ -n "$hostport" ] && echo 1 || echo 0)}" = 1 ]; then TELL_ARGS="--allow-tell"; fi
# spamd reads its config after dropping privileges: everything must be world-readable, except the runtime
# file when it holds the Redis password (read by debian-spamd only)
chmod -R a+rX "$SITE"
if [ -n "${password:-}" ]; then
  if [ "$(id -u)" = 0 ]; then chown debian-spamd "$BAYES_CF"; fi
  chmod 0600 "$BAYES_CF"
fi
if [ "${MOAT_SPAMD_SITE_ONLY:-0}" = 1 ]; then exit 0; fi
ALLOWED="${MOAT_SPAMD_ALLOWED_IPS:-127.0.0.1,172.16.0.0/12}"
if [ "$(id -u)" = 0 ]; then USER_ARGS="-u debian-spamd"; else USER_ARGS=""; fi
# shellcheck disable=SC2086
exec spamd --siteconfigpath "$SITE" --listen="${MOAT_SPAMD_LISTEN:-0.0.0.0:783}" --allowed-ips="$ALLOWED" --nouser-config \
  --syslog=stderr --pidfile=/tmp/spamd.pid --min-children=1 --max-children="${MOAT_SPAMD_CHILDREN:-4}" \
  --helper-home-dir=/var/lib/spamassassin $USER_ARGS $TELL_ARGS "$@"
