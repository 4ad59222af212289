# syntax=docker/dockerfile:1
# The image runs the current Node LTS line; the code and CI also run on Node 20 (package.json engines).
# Two stages: the build stage has the TypeScript toolchain (dev dependencies);
# the runtime stage has only production dependencies and the compiled output.

FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:26-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# GraphiQL's boot script and other pages' scripts are read from public/ at run time.
COPY public ./public
# The image's own unprivileged user; the app writes nothing to its folder.
USER node
EXPOSE 4000
# Node has fetch built in, so the probe needs no curl in the image.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/index.js"]
