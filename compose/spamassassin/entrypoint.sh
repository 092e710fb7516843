#!/bin/sh
# Runs spamd with moat's site config plus runtime settings from the environment, as debian-spamd.
# Talks to: the MX (scan requests on 783), the stack's Unbound (DNS tests), optionally Redis (Bayes).
#   MOAT_SPAMD_DNS               resolver (IP or IP:port) for SpamAssassin's DNS tests; unset: no DNS tests
#   MOAT_SPAMD_TRUSTED_NETWORKS  extra trusted relays (space-separated CIDRs)
#   MOAT_SPAMD_BAYES_REDIS       host:port[/db]: shared Bayes in Redis (unset: no Bayes)
#   MOAT_SPAMD_ALLOWED_IPS       who may scan (default: loopback and private 172.16/12)
#   MOAT_SPAMD_LISTEN            listen address (default 0.0.0.0:783)
set -eu
SITE="${MOAT_SPAMD_SITE_DIR:-/tmp/moat-spamassassin}"
rm -rf "$SITE"
mkdir -p "$SITE"
cp /etc/spamassassin/*.pre /etc/spamassassin/*.cf "$SITE"/
RUNTIME="$SITE/99_moat_runtime.cf"
: >"$RUNTIME"
if [ -n "${MOAT_SPAMD_DNS:-}" ]; then
  echo "dns_available yes" >>"$RUNTIME"
  echo "clear_dns_servers" >>"$RUNTIME"
  echo "dns_server ${MOAT_SPAMD_DNS}" >>"$RUNTIME"
fi
for n in ${MOAT_SPAMD_TRUSTED_NETWORKS:-}; do
  echo "trusted_networks $n" >>"$RUNTIME"
  echo "internal_networks $n" >>"$RUNTIME"
done
if [ -n "${MOAT_SPAMD_BAYES_REDIS:-}" ]; then
  hostport="${MOAT_SPAMD_BAYES_REDIS%%/*}"
  db="2"
  case "$MOAT_SPAMD_BAYES_REDIS" in */*) db="${MOAT_SPAMD_BAYES_REDIS##*/}" ;; esac
  cat >>"$RUNTIME" <<CF
use_bayes 1
bayes_auto_learn 1
bayes_store_module Mail::SpamAssassin::BayesStore::Redis
bayes_sql_dsn server=${hostport};database=${db}
bayes_token_ttl 21d
bayes_seen_ttl 8d
bayes_auto_expire 1
CF
fi
# spamd reads its config after dropping privileges: everything must be world-readable
chmod -R a+rX "$SITE"
ALLOWED="${MOAT_SPAMD_ALLOWED_IPS:-127.0.0.1,172.16.0.0/12}"
if [ "$(id -u)" = 0 ]; then USER_ARGS="-u debian-spamd"; else USER_ARGS=""; fi
# shellcheck disable=SC2086
exec spamd --siteconfigpath "$SITE" --listen="${MOAT_SPAMD_LISTEN:-0.0.0.0:783}" --allowed-ips="$ALLOWED" --nouser-config \
  --syslog=stderr --pidfile=/tmp/spamd.pid --min-children=1 --max-children="${MOAT_SPAMD_CHILDREN:-4}" \
  --helper-home-dir=/var/lib/spamassassin $USER_ARGS "$@"
