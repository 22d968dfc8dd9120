#!/usr/bin/env bash
# Installs and starts what the real-component tests need, where this machine allows it
# (root and apt). Elsewhere it says what is missing; those tests then skip with the reason
# (and fail under CI=true).
set -u

have() { command -v "$1" >/dev/null 2>&1; }

if [ "$(id -u)" = 0 ] && have apt-get; then
  missing=()
  have sipsak    || missing+=(sipsak)
  have sipp      || missing+=(sip-tester)
  have baresip   || missing+=(baresip-core)
  have linphonec || missing+=(linphone-cli)
  have chromium  || missing+=(chromium)
  have kamailio  || missing+=(kamailio)
  have pg_ctlcluster || missing+=(postgresql)
  have redis-server  || missing+=(redis-server)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
      || echo "warning: could not install ${missing[*]}"
  fi
fi

if have pg_isready && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if have pg_ctlcluster; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi
if have redis-cli && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break
  sleep 0.5
done
exit 0
