# dispatchlab's image: one image for every part of the compose demo (hosts, dispatcher, load).
#
# Build the project on the machine first, then the image (docs/compose.md):
#     npm ci && npm run build && docker compose build
# The image takes the built dist/ and the installed node_modules from the build context instead of
# running `npm ci` inside the build, so building needs no network at all (CI builds it in an
# engine that has none). The first stage drops the dev dependencies offline; the runtime image
# holds Node, production dependencies, dist/ and the scenarios, and runs as the unprivileged
# `node` user.
#
# Platforms: the production dependencies are plain JavaScript, no native addon (a unit test,
# test/compose/deploy-files.test.ts, keeps it so), so node_modules from any machine (Linux, macOS,
# x64 or arm64) makes a working image for linux/amd64 and linux/arm64 alike:
#     docker buildx build --platform linux/amd64,linux/arm64 -t dispatchlab:local .
FROM node:22-bookworm-slim AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY node_modules ./node_modules
RUN npm prune --omit=dev --offline --no-audit --no-fund

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY package.json ./
COPY dist ./dist
COPY scenarios ./scenarios
# Where `compare` writes its reports (a volume in docker-compose.yml), writable by `node`.
RUN mkdir -p /app/reports && chown node:node /app/reports
USER node
# The commands handle SIGTERM (graceful shutdown); compose also runs them under `init: true`.
# DEP0060 is http-proxy 1.18.1 calling util._extend, which Node 22 reports once per process
# (http-party/node-http-proxy#1715): that one warning says nothing a user can act on, so it is off;
# every other warning still prints. The compose test fails on any deprecation in the log.
ENTRYPOINT ["node", "--disable-warning=DEP0060", "dist/cli/main.js"]
CMD ["--help"]
