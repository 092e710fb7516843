# Sourced by the moat/redis image's scripts (cluster/redis.sh, cluster/sentinel.sh, redis-healthcheck):
# moat_redis_password NAME reads MOAT_REDIS_PASSWORD_FILE (the redis_password secret) into
# MOAT_REDIS_PASSWORD, without a CRLF's CR, and refuses an empty file or a password with spaces, quotes or
# backslashes (the config files take it unquoted). NAME is the caller, for the error. Unset file: unchanged.
moat_redis_password() {
  if [ -n "${MOAT_REDIS_PASSWORD_FILE:-}" ]; then
    MOAT_REDIS_PASSWORD=$(cat "$MOAT_REDIS_PASSWORD_FILE")
    MOAT_REDIS_PASSWORD=${MOAT_REDIS_PASSWORD%"$(printf '\r')"} # a file saved with CRLF
    # an empty secret would start the store open to the network while the nodes refuse the same file
    if [ -z "$MOAT_REDIS_PASSWORD" ]; then echo "$1: $MOAT_REDIS_PASSWORD_FILE is empty" >&2; exit 64; fi
  fi
  case "${MOAT_REDIS_PASSWORD:-}" in
    *[[:space:]\"\'\\]*) echo "$1: the Redis password must not contain spaces, quotes or backslashes" >&2; exit 64 ;;
  esac
}
