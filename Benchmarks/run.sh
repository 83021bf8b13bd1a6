#!/bin/bash
# ward's whole-process benchmark: start latency, plain-bundle overhead, peak RSS, burst wall time
# and static vs dynamic build, measured side by side with crun, runc, bwrap and the bare
# `unshare` floor on the shared hardened bundle (../shared/bench/hardened-config.json).
#
#   sudo Benchmarks/run.sh [--quick] [--runs N] [--burst N] [--throughput N] [--rss-reps N] [--no-build]
#
#   --quick       CI size: 20 runs per command, a burst of 16, 16 sandboxes per throughput width,
#                 5 RSS samples (seconds once the binaries are built)
#   --runs N      hyperfine runs per command (default 40)
#   --burst N     sandboxes per burst, always 8 at a time (default 200)
#   --throughput N  sandboxes per width for the sandboxes-per-second table (1, 2, 4, 8 wide; default 96)
#   --rss-reps N  peak-RSS samples per launcher (default 10)
#   --no-build    use the binaries already built instead of (re)building them
#
# Writes Benchmarks/results/latest.json and latest.md. The issue's targets are reported as
# PASS/MISS ratios taken within one run on one machine; a MISS is not a failure. The exit status
# is non-zero only when something broke (a build, a launcher, a measurement).
#
# Must run as root: like the shared start-latency.sh, every launcher runs as the unprivileged
# user 'wardbench' inside a private mount namespace whose /sys/fs/cgroup is a plain cgroup2 mount
# (crun 1.8 refuses this hybrid v1/v2 host otherwise), and setting that up needs root.
set -euo pipefail

bench=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$bench")
shared=$(cd "$repo/.." && pwd)/shared/bench
user=wardbench
parallel=8          # the issue's burst: N sandboxes, 8 at a time

# ---------------------------------------------------------------------------------------------
# Inner half: runs as $user inside the private mount namespace. Everything it measures is
# written under $work/out for the outer half to turn into the report.
# ---------------------------------------------------------------------------------------------

inner() {
  work=$1
  # shellcheck source=/dev/null
  source "$work/params"
  cd "$work"
  # ward keeps its state and seccomp cache under the XDG dirs; crun and runc get --root.
  export XDG_RUNTIME_DIR=$work/xdg XDG_CACHE_HOME=$work/cache XDG_DATA_HOME=$work/data
  mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CACHE_HOME" "$XDG_DATA_HOME" out
  inner_latency
  inner_image
  inner_cache_check
  inner_rss
  inner_burst
  inner_throughput
}

# One hyperfine run so the ratios share the same machine state: the plain bundle (namespaces
# only) against the unshare floor, and the static against the dynamic ward on the hardened bundle.
inner_latency() {
  hyperfine -N --style none -w "$warmup" -r "$runs" --export-json out/latency.json \
    -n ward-plain    "$work/ward-static run --bundle $work/plain ward-plain" \
    -n unshare-floor "unshare -Urmpnif --mount-proc /bin/true" \
    -n ward-static   "$work/ward-static run --bundle $work/hardened ward-static" \
    -n ward-dynamic  "$work/ward-dynamic run --bundle $work/hardened ward-dynamic" >out/hyperfine.log
}

# `ward run --image` on a warm store (the layers unpacked once, by the import) against
# `ward run --bundle` of the same image unpacked by `ward unpack`: the same config and files,
# an overlay of the store's layers against a bind of a rootfs directory.
inner_image() {
  "$work/ward-static" image import "$work/image:bench" --name bench >out/image-import.log
  "$work/ward-static" unpack "$work/image:bench" "$work/image-bundle"
  hyperfine -N --style none -w "$warmup" -r "$runs" --export-json out/image.json \
    -n run-image  "$work/ward-static run --image bench image-run" \
    -n run-bundle "$work/ward-static run --bundle $work/image-bundle bundle-run" >out/hyperfine-image.log
}

# The numbers above are meant to be ward's steady state, where the compiled seccomp program comes
# from the cache. Record whether that really was the case.
inner_cache_check() {
  "$work/ward-static" run --debug --bundle "$work/hardened" ward-cache-check >out/cache-check.log 2>&1
  if grep -q 'seccomp: cache hit' out/cache-check.log; then
    echo true >out/cache-hit
  else
    echo false >out/cache-hit
  fi
}

# Peak RSS (/usr/bin/time's %M: the largest maxrss of the launcher and the children it reaped),
# alternating ward and crun so drift in machine load hits both alike.
inner_rss() {
  local i
  for i in $(seq 1 "$rss_reps"); do
    /usr/bin/time -a -o out/rss-ward.txt -f %M \
      "$work/ward-static" run --bundle "$work/hardened" "rss-ward-$i" >/dev/null
    /usr/bin/time -a -o out/rss-crun.txt -f %M \
      crun --cgroup-manager=disabled --root "$work/state-crun" run --bundle "$work/hardened" "rss-crun-$i" >/dev/null
  done
}

# $burst hardened sandboxes, $parallel at a time, each with its own id; wall time in seconds.
# xargs exits non-zero if any one sandbox failed, which fails the whole benchmark.
burst_one() {
  local name=$1; shift
  local start end
  start=$(date +%s%N)
  seq 1 "$burst" | xargs -P "$parallel" -I{} "$@" >/dev/null
  end=$(date +%s%N)
  echo "$(( (end - start) / 1000 ))" >"out/burst-$name.us"
}

inner_burst() {
  burst_one ward "$work/ward-static" run --bundle "$work/hardened" "burst-ward-{}"
  burst_one crun crun --cgroup-manager=disabled --root "$work/state-crun-burst" run --bundle "$work/hardened" "burst-crun-{}"
  # `crun run` deletes each container when it exits; anything still listed is a leak.
  crun --root "$work/state-crun-burst" list -q 2>/dev/null | grep -c . >out/crun-leftovers || true
  crun --root "$work/state-crun-burst" list -q 2>/dev/null | while read -r id; do
    crun --root "$work/state-crun-burst" delete -f "$id" || true
  done
}

# Sandboxes per second at 1, 2, 4 and 8 at a time: $throughput hardened sandboxes per width,
# ward and crun driven the same way (xargs -P), alternating per width so drift hits both alike.
# One line per measurement in out/throughput.txt: launcher width microseconds.
inner_throughput() {
  local w start end
  : >out/throughput.txt
  for w in 1 2 4 8; do
    start=$(date +%s%N)
    seq 1 "$throughput" | xargs -P "$w" -I{} "$work/ward-static" run --bundle "$work/hardened" "tp-ward-$w-{}" >/dev/null
    end=$(date +%s%N)
    echo "ward $w $(( (end - start) / 1000 ))" >>out/throughput.txt
    start=$(date +%s%N)
    seq 1 "$throughput" | xargs -P "$w" -I{} \
      crun --cgroup-manager=disabled --root "$work/state-crun-tp" run --bundle "$work/hardened" "tp-crun-$w-{}" >/dev/null
    end=$(date +%s%N)
    echo "crun $w $(( (end - start) / 1000 ))" >>out/throughput.txt
  done
}

# ---------------------------------------------------------------------------------------------
# Outer half: runs as root. Installs what is missing, builds ward, prepares the bundles, runs
# the shared yardstick and the inner half, and writes the report.
# ---------------------------------------------------------------------------------------------

log() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

install_deps() {
  local need="" c
  for c in crun runc bwrap hyperfine busybox jq unshare xargs; do command -v "$c" >/dev/null || need=1; done
  [ -x /usr/bin/time ] || need=1
  [ -z "$need" ] && return
  log "installing crun runc bubblewrap hyperfine busybox-static jq time"
  local pkgs=(crun runc bubblewrap hyperfine busybox-static jq util-linux findutils time)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
  }
}

# The release binary is the static one (scripts/build); the dynamic one is plain
# `swift build -c release`, measured only to show what static linking buys at start.
build_binaries() {
  local static dynamic
  if [ "$build" = 1 ]; then
    log "building the static ward (scripts/build; log: $work/build.log)"
    "$repo/scripts/build" >/dev/null 2>>"$work/build.log" || { tail -30 "$work/build.log" >&2; die "static build failed"; }
    log "building the dynamic ward (swift build -c release)"
    (cd "$repo" && swift build -c release) >>"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; die "dynamic build failed"; }
  fi
  static=$("$repo/scripts/build" --print-path)
  dynamic=$(cd "$repo" && swift build -c release --show-bin-path)/ward
  [ -x "$static" ] || die "no static ward at $static (run without --no-build)"
  [ -x "$dynamic" ] || die "no dynamic ward at $dynamic (run without --no-build)"
  # Copies in $work: $user may not be able to reach the repository.
  cp "$static" "$work/ward-static"
  cp "$dynamic" "$work/ward-dynamic"
}

# Two bundles on the start-latency.sh recipe: busybox-static rootfs, the shared hardened config
# with the id maps pointed at $user. "plain" is the same namespaces and nothing else, which is
# what the unshare floor does: no seccomp, no masked or read-only paths, /proc as the only mount,
# a writable root, no capability or rlimit changes.
make_bundles() {
  local uid gid b
  uid=$(id -u "$user") gid=$(id -g "$user")
  for b in hardened plain; do
    mkdir -p "$work/$b/rootfs"/{bin,proc,dev,sys,tmp,run,etc,var/tmp}
    cp "$(command -v busybox)" "$work/$b/rootfs/bin/busybox"
    for a in sh true cat id ls; do ln -s busybox "$work/$b/rootfs/bin/$a"; done
  done
  jq --argjson u "$uid" --argjson g "$gid" \
    '.linux.uidMappings[0].hostID=$u | .linux.gidMappings[0].hostID=$g' \
    "$shared/hardened-config.json" >"$work/hardened/config.json"
  jq 'del(.linux.seccomp, .linux.maskedPaths, .linux.readonlyPaths, .linux.sysctl, .process.capabilities, .process.rlimits)
      | .mounts = [.mounts[] | select(.destination == "/proc")] | .root.readonly = false' \
    "$work/hardened/config.json" >"$work/plain/config.json"
}

# A one-layer OCI image layout of the hardened bundle's rootfs, /bin/true its command.
make_image() {
  local img=$work/image layer config manifest
  mkdir -p "$img/blobs/sha256"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$img/oci-layout"
  tar --numeric-owner --owner=0 --group=0 -C "$work/hardened/rootfs" -cf "$work/layer.tar" .
  layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  mv "$work/layer.tar" "$img/blobs/sha256/$layer"
  jq -cn --arg d "sha256:$layer" '{architecture: "amd64", os: "linux", config: {Cmd: ["/bin/true"]}, rootfs: {type: "layers", diff_ids: [$d]}}' >"$work/config.json"
  config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$img/blobs/sha256/$config"
  jq -cn --arg c "sha256:$config" --argjson cs "$(stat -c %s "$img/blobs/sha256/$config")" \
         --arg l "sha256:$layer" --argjson ls "$(stat -c %s "$img/blobs/sha256/$layer")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $l, size: $ls}]}' >"$work/manifest.json"
  manifest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
  jq -cn --arg m "sha256:$manifest" --argjson ms "$(stat -c %s "$work/manifest.json")" \
    '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
      annotations: {"org.opencontainers.image.ref.name": "bench"}}]}' >"$img/index.json"
  mv "$work/manifest.json" "$img/blobs/sha256/$manifest"
}

# The shared yardstick, unchanged: ward vs crun, runc, bwrap and unshare in one hyperfine run.
run_yardstick() {
  log "shared yardstick: start-latency.sh --runs $runs"
  "$shared/start-latency.sh" --user "$user" --runs "$runs" --json "$work/yardstick.json" "$work/ward-static" \
    >"$work/yardstick.log" 2>&1 || { cat "$work/yardstick.log" >&2; die "start-latency.sh failed"; }
}

# Re-enter this script as $user in a private mount namespace with its own cgroup2 mount.
run_inner() {
  log "own run as $user: plain bundle, static/dynamic, peak RSS ($rss_reps each), burst ($burst x $parallel)"
  cat >"$work/params" <<EOF
runs=$runs
warmup=$warmup
rss_reps=$rss_reps
burst=$burst
parallel=$parallel
throughput=$throughput
EOF
  cp "$0" "$work/run.sh"
  chown -R "$user:" "$work"
  chmod 755 "$work"
  unshare -m --propagation private sh -c \
    "umount -R /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec su $user -s /bin/bash -c '$work/run.sh --inner $work'" \
    >"$work/inner.log" 2>&1 || { cat "$work/inner.log" >&2; die "the measurements as $user failed"; }
}

# Medians in ms for each command of a hyperfine export, keyed by launcher name.
latency_table() {
  jq '[.results[] | {key: (.command | split(" ")[0] | split("/") | last),
                     value: {median_ms: (.median * 1000), mean_ms: (.mean * 1000), stddev_ms: ((.stddev // 0) * 1000),
                             min_ms: (.min * 1000), max_ms: (.max * 1000), runs: (.times | length)}}]
      | from_entries' "$1"
}

# out/throughput.txt -> {sandboxes, widths, ward: {"1": per_s, ...}, crun: {...}, ratio: {"1": ward/crun, ...}}
throughput_json() {
  jq -R -s --argjson n "$throughput" '
    def rate: $n / (tonumber / 1e6) * 10 | round / 10;
    [split("\n")[] | select(length > 0) | split(" ") | {launcher: .[0], width: .[1], per_s: (.[2] | rate)}] as $rows
    | ($rows | map(select(.launcher == "ward") | {key: .width, value: .per_s}) | from_entries) as $ward
    | ($rows | map(select(.launcher == "crun") | {key: .width, value: .per_s}) | from_entries) as $crun
    | {sandboxes: $n, widths: ([$rows[].width | tonumber] | unique), ward: $ward, crun: $crun,
       ratio: ($ward | with_entries(.value = (.value / $crun[.key] * 1000 | round / 1000)))}' "$work/out/throughput.txt"
}

stats_kb() {   # max and median of a file of numbers, one a line
  sort -n "$1" | jq -s '{max_kb: max, median_kb: (if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end), samples: .}'
}

write_results() {
  local out=$bench/results
  mkdir -p "$out"
  local commit
  commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
  jq -n \
    --argjson yard "$(latency_table "$work/yardstick.json")" \
    --argjson own "$(latency_table "$work/out/latency.json")" \
    --argjson image "$(latency_table "$work/out/image.json")" \
    --argjson rss_ward "$(stats_kb "$work/out/rss-ward.txt")" \
    --argjson rss_crun "$(stats_kb "$work/out/rss-crun.txt")" \
    --argjson burst_ward_us "$(cat "$work/out/burst-ward.us")" \
    --argjson burst_crun_us "$(cat "$work/out/burst-crun.us")" \
    --argjson leftovers "$(cat "$work/out/crun-leftovers" 2>/dev/null || echo 0)" \
    --argjson throughput "$(throughput_json)" \
    --argjson cache_hit "$(cat "$work/out/cache-hit")" \
    --arg mode "$mode" --argjson runs "$runs" --argjson burst "$burst" --argjson parallel "$parallel" \
    --arg kernel "$(uname -r)" --argjson nproc "$(nproc)" \
    --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg commit "$commit" '
    def ratio(a; b): (a / b * 1000 | round) / 1000;
    def target(name; value; limit): {name: name, value: value, limit: limit, pass: (value <= limit)};
    {
      machine: {kernel: $kernel, nproc: $nproc, cpu: $cpu, date: $date, loadavg: $load, commit: $commit},
      mode: $mode, runs: $runs,
      hardened: {
        median_ms: ($yard | map_values(.median_ms)),
        detail: $yard,
        ratio: {crun: ratio($yard.ward.median_ms; $yard.crun.median_ms),
                runc: ratio($yard.ward.median_ms; $yard.runc.median_ms),
                bwrap: ratio($yard.ward.median_ms; $yard.bwrap.median_ms),
                unshare: ratio($yard.ward.median_ms; $yard.unshare.median_ms)},
        seccomp_cache_hit: $cache_hit
      },
      plain: {ward_ms: $own."ward-plain".median_ms, unshare_ms: $own."unshare-floor".median_ms,
              ratio: ratio($own."ward-plain".median_ms; $own."unshare-floor".median_ms)},
      static_dynamic: {static_ms: $own."ward-static".median_ms, dynamic_ms: $own."ward-dynamic".median_ms,
                       ratio: ratio($own."ward-static".median_ms; $own."ward-dynamic".median_ms)},
      own_run: $own,
      image: {run_image_ms: $image."run-image".median_ms, run_bundle_ms: $image."run-bundle".median_ms,
              ratio: ratio($image."run-image".median_ms; $image."run-bundle".median_ms), detail: $image},
      peak_rss: {ward: $rss_ward, crun: $rss_crun,
                 ratio: ratio($rss_ward.median_kb; $rss_crun.median_kb)},
      burst: {sandboxes: $burst, parallel: $parallel,
              ward_s: ($burst_ward_us / 1e6), crun_s: ($burst_crun_us / 1e6),
              ratio: ratio($burst_ward_us; $burst_crun_us), crun_leftovers: $leftovers},
      throughput: $throughput
    }
    | .targets = [
        target("hardened median <= 0.25x crun"; .hardened.ratio.crun; 0.25),
        target("stretch: hardened median <= 1.0x bwrap"; .hardened.ratio.bwrap; 1.0),
        target("plain bundle <= 1.5x unshare floor"; .plain.ratio; 1.5),
        target("peak RSS (median) <= crun"; .peak_rss.ratio; 1.0),
        target("burst wall time <= 0.25x crun"; .burst.ratio; 0.25),
        target("run --image (warm store) <= 1.2x run --bundle"; .image.ratio; 1.2)
      ]' >"$out/latest.json"
  render_markdown "$out/latest.json" >"$out/latest.md"
}

render_markdown() {
  jq -r '
    def ms: (. * 100 | round / 100 | tostring) + " ms";
    def x: (. | tostring) + "×";
    def verdict: if .pass then "PASS" else "MISS" end;
    "# ward benchmark (\(.mode))",
    "",
    "Machine: Linux \(.machine.kernel), \(.machine.nproc) CPUs, \(.machine.cpu); load \(.machine.loadavg); \(.machine.date); ward \(.machine.commit)",
    "",
    "## Hardened bundle, start to exit of /bin/true (shared start-latency.sh, one hyperfine run, \(.runs) runs each)",
    "",
    "| launcher | median | ward ÷ it |",
    "| --- | ---: | ---: |",
    "| ward (static) | \(.hardened.median_ms.ward | ms) | |",
    (.hardened.ratio as $r | .hardened.median_ms | to_entries[] | select(.key != "ward")
      | "| \(.key) | \(.value | ms) | \($r[.key] | x) |"),
    "",
    "Seccomp program from the cache during the runs: \(.hardened.seccomp_cache_hit)",
    "",
    "## Own run (one hyperfine run, \(.runs) runs each)",
    "",
    "| measurement | median | ratio |",
    "| --- | ---: | ---: |",
    "| plain bundle (namespaces only), ward | \(.plain.ward_ms | ms) | \(.plain.ratio | x) the floor |",
    "| `unshare -Urmpnif --mount-proc /bin/true` (floor) | \(.plain.unshare_ms | ms) | |",
    "| hardened, static ward | \(.static_dynamic.static_ms | ms) | \(.static_dynamic.ratio | x) dynamic |",
    "| hardened, dynamic ward | \(.static_dynamic.dynamic_ms | ms) | |",
    "",
    "## `ward run --image` on a warm store against `ward run --bundle` of the same image (\(.runs) runs each)",
    "",
    "| measurement | median | ratio |",
    "| --- | ---: | ---: |",
    "| `run --image` (an overlay of the stored layers) | \(.image.run_image_ms | ms) | \(.image.ratio | x) |",
    "| `run --bundle` (the image unpacked by `ward unpack`) | \(.image.run_bundle_ms | ms) | |",
    "",
    "## Peak RSS, hardened bundle (`/usr/bin/time -f %M`, \(.peak_rss.ward.samples | length) runs each)",
    "",
    "| launcher | median | max |",
    "| --- | ---: | ---: |",
    "| ward | \(.peak_rss.ward.median_kb) KB | \(.peak_rss.ward.max_kb) KB |",
    "| crun | \(.peak_rss.crun.median_kb) KB | \(.peak_rss.crun.max_kb) KB |",
    "",
    "## Burst: \(.burst.sandboxes) hardened sandboxes, \(.burst.parallel) at a time",
    "",
    "| launcher | wall time |",
    "| --- | ---: |",
    "| ward | \(.burst.ward_s * 1000 | round / 1000) s |",
    "| crun | \(.burst.crun_s * 1000 | round / 1000) s |",
    "",
    "ward ÷ crun: \(.burst.ratio | x); crun containers left behind: \(.burst.crun_leftovers)",
    "",
    "## Throughput: sandboxes per second at 1, 2, 4 and 8-wide (\(.throughput.sandboxes) hardened sandboxes per width)",
    "",
    "| width | ward | crun | ward ÷ crun |",
    "| ---: | ---: | ---: | ---: |",
    (.throughput as $t | $t.widths[] | tostring as $w
      | "| \($w) | \($t.ward[$w]) /s | \($t.crun[$w]) /s | \($t.ratio[$w] | x) |"),
    "",
    "(A rate ratio: above 1, ward starts and finishes more sandboxes per second than crun.)",
    "",
    "## Targets (ratios from this run; a report, not a test)",
    "",
    "| target | measured | verdict |",
    "| --- | ---: | --- |",
    (.targets[] | "| \(.name) | \(.value | x) | \(verdict) |")
  ' "$1"
}

main() {
  mode=full runs=40 burst=200 rss_reps=10 build=1 throughput=96
  local runs_set="" burst_set="" rss_set="" tp_set=""
  while [ $# -gt 0 ]; do
    case $1 in
      --inner) inner "$2"; exit ;;
      --quick) mode=quick; shift ;;
      --runs) runs_set=$2; shift 2 ;;
      --burst) burst_set=$2; shift 2 ;;
      --throughput) tp_set=$2; shift 2 ;;
      --rss-reps) rss_set=$2; shift 2 ;;
      --no-build) build=0; shift ;;
      -h|--help) sed -n 2,23p "$0"; exit 0 ;;
      *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
  done
  if [ "$mode" = quick ]; then runs=20 burst=16 rss_reps=5 throughput=16; fi
  runs=${runs_set:-$runs} burst=${burst_set:-$burst} rss_reps=${rss_set:-$rss_reps} throughput=${tp_set:-$throughput}
  warmup=$(( runs < 10 ? 2 : 5 ))
  [ "$(id -u)" = 0 ] || die "run as root (it drops to '$user' for the measurements)"
  [ -f "$shared/hardened-config.json" ] || die "the shared yardstick is missing: $shared"

  install_deps
  id "$user" >/dev/null 2>&1 || useradd -m "$user"
  work=$(mktemp -d /tmp/ward-bench-run.XXXXXX)
  trap 'rm -rf "$work"' EXIT

  build_binaries
  make_bundles
  make_image
  local t0=$SECONDS
  run_yardstick
  run_inner
  write_results
  log "measured in $((SECONDS - t0)) s; wrote $bench/results/latest.json and latest.md"
  cat "$bench/results/latest.md"
}

main "$@"
