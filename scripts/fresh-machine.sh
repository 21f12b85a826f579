#!/usr/bin/env bash
# The README's two commands on a machine that has only Node.js and npm: a minimal Debian chroot
# (debootstrap --variant=minbase: no compilers, no Chromium, no Mesa, no Python) with this
# machine's node and npm copied in, a clean clone of HEAD and ../shared beside it. Needs root and
# Debian's debootstrap. The chroot is kept in $FRESH_ROOT (default /tmp/mamba-ts-fresh) and reused.
#   bash scripts/fresh-machine.sh            # npm install && npx mamba-ts generate "ROMEO:" && npm test
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${FRESH_ROOT:-/tmp/mamba-ts-fresh}
if [ ! -x "$root/bin/sh" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
# Node.js and npm, nothing else.
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules"
cp "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
rm -rf "$root/usr/local/lib/node_modules/npm" && cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The network as this machine has it: where egress passes through a proxy with its own CA, node and
# npm in the chroot need that CA bundle too (it is the network's, not the project's).
ca=""
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  mkdir -p "$root/etc/fresh-ca" && cp "$NODE_EXTRA_CA_CERTS" "$root/etc/fresh-ca/ca.crt"
  ca="NODE_EXTRA_CA_CERTS=/etc/fresh-ca/ca.crt npm_config_cafile=/etc/fresh-ca/ca.crt"
fi
# The project as a fresh clone, with shared/ beside it.
rm -rf "$root/work" && mkdir -p "$root/work"
git clone -q "$repo" "$root/work/main"
cp -a "$repo/../shared" "$root/work/shared"
for m in proc dev sys; do mountpoint -q "$root/$m" || mount --bind "/$m" "$root/$m"; done
trap 'for m in proc dev sys; do umount -l "$root/$m" 2>/dev/null || true; done' EXIT
# shellcheck disable=SC2086
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin TERM=dumb $ca /bin/sh -c '
  set -e
  echo "# in the chroot: $(node --version), npm $(npm --version); chromium: $(command -v chromium || echo none); vulkan drivers: $(ls /usr/share/vulkan/icd.d 2>/dev/null | wc -l)"
  cd /work/main
  npm install --no-audit --no-fund
  npx mamba-ts generate "ROMEO:"
  npm test
'
