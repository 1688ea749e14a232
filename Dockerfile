# One image for the MCU server and the recording worker (docker compose: deploy/compose.yaml).
# Built from the same setup script CI runs, in its runtime-only mode (no test tools).
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production MCU_SETUP=runtime DEBIAN_FRONTEND=noninteractive
# glibc's mmap threshold fixed for the server's Node process (its FFmpegs do not get it): docs/DEPLOY.md.
ENV MALLOC_MMAP_THRESHOLD_=131072
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*

# npm ci runs the project's install script, which builds the native addons: it needs their
# sources and the build scripts (test/unit/dockerfile.test.ts checks this layer has them).
COPY package.json package-lock.json ./
COPY scripts/ scripts/
COPY native/ native/
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
RUN npm run build && mkdir -p /data/recordings && chown node:node /data/recordings

# HTTP; media uses the UDP range ICE_UDP_PORT_MIN..MAX (publish it, see deploy/compose.yaml).
EXPOSE 8080
USER node
CMD ["node", "--enable-source-maps", "dist/server.mjs"]
