#!/bin/bash
# The ward demo: a busybox workload in a hardened rootless sandbox.
#
#   Demo/run.sh            (as root on a fresh Debian 12: installs what it needs, then drops to
#                           the unprivileged user 'warddemo' to run the sandbox)
#   Demo/run.sh --no-setup (as any user, with ward already built)
#
# It builds a rootfs from Debian's busybox-static, writes the hardened config `ward spec` makes
# (user namespace, no network, read-only root, no capabilities, no_new_privs, seccomp allow-list),
# and runs a shell script inside that shows the uid map, the seccomp mode, the capabilities and
# the refused write to /.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
setup=1
[ "${1:-}" = "--no-setup" ] && setup=0

if [ "$setup" = 1 ] && [ "$(id -u)" = 0 ]; then
  "$here/scripts/install-deps"
  "$here/scripts/build" >&2
  id warddemo >/dev/null 2>&1 || useradd -m -s /bin/bash warddemo
fi
ward=$("$here/scripts/build" --print-path)

work=$(mktemp -d /tmp/ward-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
install -m 755 "$ward" "$work/ward"
"$here/scripts/make-busybox-rootfs" "$work/bundle/rootfs"
# A random secret for the workload: on the host only in $work (removed on exit), in the container
# only on a read-only, memory-backed /run/secrets.
mkdir -m 700 "$work/secrets"
(umask 077; head -c 24 /dev/urandom | base64 > "$work/secrets/demo-token")

cat > "$work/bundle/rootfs/demo.sh" <<'SH'
echo "--- inside the sandbox ---"
echo "I am: $(id)   hostname: $(hostname)   pid: $$"
echo "uid map (container host count): $(cat /proc/self/uid_map | tr -s ' ')"
grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs|CapEff|CapBnd):' /proc/self/status
echo "network interfaces: $(ls /sys/class/net | tr '\n' ' ')"
if touch /evil 2>/dev/null; then echo "write to /: ALLOWED (bad)"; else echo "write to /: refused ($(touch /evil 2>&1 | sed 's/.*: //'))"; fi
if echo x > /tmp/ok; then echo "write to /tmp (tmpfs, noexec): ok"; fi
cp /bin/busybox /tmp/bb 2>/dev/null; if /tmp/bb true 2>/dev/null; then echo "exec from /tmp: ALLOWED (bad)"; else echo "exec from /tmp: refused (noexec)"; fi
if unshare -U true 2>/dev/null; then echo "new user namespace: ALLOWED (bad)"; else echo "new user namespace: refused (seccomp)"; fi
if head -c1 /proc/kcore >/dev/null 2>&1 && [ -s /proc/kcore ]; then echo "/proc/kcore: readable (bad)"; else echo "/proc/kcore: masked"; fi
echo "secrets (--secret demo-token):"; ls -l /run/secrets | sed 's/^/  /'
echo "  mount: $(grep ' /run/secrets ' /proc/mounts)"
echo "  readable by me: $(wc -c < /run/secrets/demo-token) bytes"
if (echo x > /run/secrets/demo-token) 2>/dev/null; then echo "  write to the secret: ALLOWED (bad)"; else echo "  write to the secret: refused ($( (echo x > /run/secrets/demo-token) 2>&1 | sed 's/.*: //'))"; fi
echo "--- done ---"
SH

run() {
  cd "$work/bundle"
  "$work/ward" spec -- /bin/sh /demo.sh
  echo "ward run --bundle $work/bundle   (as $(id -un), uid $(id -u))"
  "$work/ward" run --bundle "$work/bundle" --timeout 30s --secret-dir "$work/secrets" --secret demo-token demo
}
if [ "$(id -u)" = 0 ]; then
  chown -R warddemo: "$work"
  export -f run; export work
  su warddemo -s /bin/bash -c run
else
  run
fi
