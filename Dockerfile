# One image for the API and the workers. Debian (glibc), since native TensorFlow needs it.
# The build stage installs exactly as CI does (`npm ci`, whose postinstall provisions native
# TensorFlow from the tensorflow-cpu wheel and builds the tfjs-node addon), then compiles.
#
# BASE: any Debian bookworm image with Node 20 (>= 20.19) on the PATH. Where Docker Hub is out of
# reach, build one locally (scripts/docker-proof.sh shows how) and pass --build-arg BASE=....
ARG BASE=node:20-bookworm-slim

FROM ${BASE} AS build
# npm 10 (what Node 20 bundles) ignores package.json's `allowScripts`: tfjs-node's own install
# script then runs, fails without Google storage, and npm silently drops the optional package.
# npm 11 honours `allowScripts`, so only scripts/install-native.mjs provisions TensorFlow.
ARG NPM_VERSION=11.19.1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip g++ make ca-certificates binutils \
 && rm -rf /var/lib/apt/lists/*
RUN npm install -g "npm@${NPM_VERSION}" --no-audit --no-fund --loglevel=error && npm --version
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/install-native.mjs scripts/install-native.mjs
COPY native/graph/graph.cc native/graph/graph.cc
COPY scripts/install-redis.mjs scripts/install-redis.mjs
# The image gets its Redis from the compose service (or REDIS_URL), never a private one.
RUN DESCENT_SKIP_REDIS=1 npm ci --no-audit --no-fund && mkdir -p native/graph/build
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY workers workers
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${BASE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/graph/build ./native/graph/build
COPY dashboard ./dashboard
COPY scripts/check-backend.mjs scripts/check-backend.mjs
# The build fails unless the image trains on native TensorFlow: the pure-JS fallback is 40-1000x
# slower and must be asked for (--build-arg DESCENT_ALLOW_CPU=1).
ARG DESCENT_ALLOW_CPU=0
RUN DESCENT_ALLOW_CPU="${DESCENT_ALLOW_CPU}" node scripts/check-backend.mjs
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Default: API plus one worker in one container (needs REDIS_URL). docker-compose.yml runs
# them as separate services instead, so workers scale with --scale worker=N.
CMD ["node", "dist/src/cli/start.js"]
