#!/bin/sh
# Build-time rule update: try sa-update briefly; when the rule servers cannot be reached (offline build,
# firewalled CI), keep Debian's packaged rules in /usr/share/spamassassin. Never fails the build.
# Usage (in the Dockerfile, as root): sh compose/spamassassin/build-rules.sh
set -u
TIMEOUT="${SA_UPDATE_TIMEOUT:-60}"
RULES_DIR=/var/lib/spamassassin

status=0
if command -v sa-update >/dev/null 2>&1; then
  timeout "$TIMEOUT" sa-update --verbose >/tmp/sa-update.log 2>&1 || status=$?
else
  status=127
fi

case "$status" in
  0) echo "build-rules: sa-update installed new rules" ;;
  1) echo "build-rules: sa-update: no newer rules; using what is installed" ;;
  *)
    echo "build-rules: sa-update unavailable (exit $status; offline or timed out after ${TIMEOUT}s): using Debian's packaged rules"
    sed -n '1,20p' /tmp/sa-update.log 2>/dev/null || true
    # A half-finished update leaves a versioned rules dir without rules; spamd would prefer it and
    # scan with nothing. Remove such dirs so the packaged rules in /usr/share/spamassassin are used.
    for d in "$RULES_DIR"/[0-9]*; do
      [ -d "$d" ] || continue
      if ! find "$d" -name '*.cf' | grep -q .; then
        echo "build-rules: removing empty rules dir $d"
        rm -rf "$d"
      fi
    done
    ;;
esac
rm -f /tmp/sa-update.log

# The rules must compile either way; this fails the build only on a broken config.
if command -v spamassassin >/dev/null 2>&1; then
  spamassassin --lint && echo "build-rules: spamassassin --lint ok"
fi
exit 0
