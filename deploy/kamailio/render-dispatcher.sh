#!/bin/sh
# Writes Kamailio's dispatcher list from dispatcher.list.template, one line per SIP worker,
# then runs the given command (Kamailio). Workers come from SIP_WORKERS ("host:port ..."), or
# else from every IPv4 address SIP_WORKERS_HOST resolves to (docker compose gives a scaled
# service one address per replica) on SIP_WORKERS_PORT. After scaling, re-run it and
# `kamcmd dispatcher.reload` (README.md). SIP_ADVERTISE (public host:port) is passed on to
# Kamailio as a define.
set -eu

template="${DISPATCHER_TEMPLATE:-/etc/kamailio/dispatcher.list.template}"
list="${DISPATCHER_LIST:-/etc/kamailio/dispatcher.list}"
port="${SIP_WORKERS_PORT:-5060}"
workers="${SIP_WORKERS:-}"

if [ -z "$workers" ]; then
  host="${SIP_WORKERS_HOST:-sip}"
  for _ in $(seq 1 30); do
    addresses=$(getent ahostsv4 "$host" | awk '{print $1}' | sort -u)
    [ -n "$addresses" ] && break
    echo "waiting for SIP workers at $host" >&2
    sleep 1
  done
  [ -n "$addresses" ] || { echo "no SIP worker resolves as $host" >&2; exit 1; }
  workers=$(for address in $addresses; do printf '%s:%s ' "$address" "$port"; done)
fi

grep '^#' "$template" > "$list.tmp"
line=$(grep -v '^#' "$template" | grep -v '^$')
for worker in $workers; do
  echo "$line" | sed "s/\${WORKER}/$worker/g" >> "$list.tmp"
done
mv "$list.tmp" "$list"
echo "dispatching to: $workers" >&2
if [ -n "${SIP_ADVERTISE:-}" ]; then
  set -- "$@" -A "SIP_ADVERTISE=$SIP_ADVERTISE"
fi
exec "$@"
