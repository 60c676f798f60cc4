# Pantera: one process serving the API (8086), package clients (8080) and metrics (8087).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Prisma client, printed schema and typed documents are generated, not committed.
RUN bash scripts/generate.sh && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PANTERA_DATA_DIR=/var/pantera \
    PANTERA_API_PORT=8086 \
    PANTERA_REPO_PORT=8080 \
    PANTERA_METRICS_PORT=8087
RUN groupadd --system --gid 10001 pantera \
 && useradd --system --uid 10001 --gid pantera --home-dir /var/pantera pantera \
 && mkdir -p /var/pantera && chown pantera:pantera /var/pantera
WORKDIR /app
COPY --from=build /app /app
USER pantera
VOLUME ["/var/pantera"]
EXPOSE 8080 8086 8087
# Readiness (/.ready: database and default storage answer), not liveness (/.health), so the container shows
# unhealthy while it cannot serve; /.ready answers within about 1 s either way.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PANTERA_REPO_PORT||8080)+'/.ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Apply migrations first (fails fast on a bad DATABASE_URL), then serve.
CMD ["sh", "-c", "node --import tsx scripts/migrate.ts && exec node --import tsx src/main.ts"]
