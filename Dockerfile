# dispatchlab's image: one image for every part of the compose demo (hosts, dispatcher, load).
#
# Build the project on the machine first, then the image (docs/compose.md):
#     npm ci && npm run build && docker compose build
# The image takes the built dist/ and the installed node_modules from the build context instead of
# running `npm ci` inside the build, so building needs no network at all (CI builds it in an
# engine that has none). The first stage drops the dev dependencies offline; the runtime image
# holds Node, production dependencies, dist/ and the scenarios, and runs as the unprivileged
# `node` user. node_modules must come from a linux-x64 glibc install (native modules).
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
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
