#!/usr/bin/env bash
# A local 3-member keel cluster on 127.0.0.1, like etcd's Procfile (infra1..3 on client ports
# 2379/22379/32379, peer ports 2380/22380/32380), data under ./cluster.keel/. Runs in the
# foreground; Ctrl-C (or SIGTERM) stops all three. Restarting reuses the data.
#   scripts/cluster.sh [path/to/keel]
set -euo pipefail
KEEL=${1:-build/bin/keel}
DATA=${KEEL_CLUSTER_DIR:-cluster.keel}
mkdir -p "$DATA"
CLUSTER="infra1=http://127.0.0.1:2380,infra2=http://127.0.0.1:22380,infra3=http://127.0.0.1:32380"
pids=()
stopping=0
stop() {
  stopping=1
  trap - INT TERM EXIT
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT
i=0
for port in 2379 22379 32379; do
  i=$((i + 1))
  peer=$((port + 1))
  "$KEEL" --name "infra$i" --data-dir "$DATA/infra$i" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$CLUSTER" --initial-cluster-state new >"$DATA/infra$i.log" 2>&1 &
  pids+=($!)
done
echo "keel cluster: 3 members, logs in $DATA/infra{1,2,3}.log"
echo "  endpoints: 127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379"
echo "  try: etcdctl --endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 endpoint status -w table"
echo "Ctrl-C stops the cluster."
wait -n "${pids[@]}" || true
if [ "$stopping" = 0 ]; then
  echo "a member exited; stopping the others (see $DATA/*.log)" >&2
fi
