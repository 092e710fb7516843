#!/bin/sh
# Container health check for moat's Unbound: asks the local-data name health.moat. over UDP on loopback.
# Needs nothing on the network (the answer is local data); exits 0 only when Unbound answers 127.0.0.1.
set -eu
drill -Q @127.0.0.1 health.moat. A 2>/dev/null | grep -qx '127.0.0.1'
