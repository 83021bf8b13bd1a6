#!/bin/bash
# Unpack throughput: `ward unpack` against `umoci unpack --rootless` and plain `tar -x` (the floor:
# no digests, no safety checks) on the same layer, gzip'd and uncompressed.
#
#   Benchmarks/unpack.sh                     a layer of /usr/bin, /usr/include and /usr/share
#   Benchmarks/unpack.sh --quick             a layer of /usr/include only
#   Benchmarks/unpack.sh --runs 5 DIR...     a layer of DIR... instead, 5 runs each
#   Benchmarks/unpack.sh --dir /dev/shm      work (blobs and unpacked trees) there (default: $TMPDIR or /var/tmp)
#   WARD=path/to/ward Benchmarks/unpack.sh   that ward (default: the static release build)
#
# Every tool unpacks into a fresh directory on the same filesystem, from a warm page cache;
# the median wall time of the runs counts. Throughput is the layer's uncompressed size over
# that time. Writes Benchmarks/results/unpack.{md,json}. Needs umoci, jq, gzip, sha256sum.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=3
sources=()
base=${TMPDIR:-/var/tmp}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) sources=(/usr/include); shift ;;
    --runs) runs=$2; shift 2 ;;
    --dir) base=$2; shift 2 ;;
    *) sources+=("$1"); shift ;;
  esac
done
[ ${#sources[@]} -gt 0 ] || sources=(/usr/bin /usr/include /usr/share)

for tool in umoci jq gzip sha256sum; do
  command -v "$tool" >/dev/null || { echo "unpack.sh: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
ward=${WARD:-}
if [ -z "$ward" ]; then ward=$(scripts/build); fi

work=$(mktemp -d "$base/ward-unpack-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "unpack.sh: building the layer from ${sources[*]}" >&2
tar --numeric-owner --owner=0 --group=0 -cf "$work/layer.tar" "${sources[@]}" 2>/dev/null || true
gzip -c "$work/layer.tar" >"$work/layer.tar.gz"
raw_size=$(stat -c %s "$work/layer.tar")
gz_size=$(stat -c %s "$work/layer.tar.gz")
files=$(tar -tf "$work/layer.tar" | wc -l)

# An OCI layout with two images: tag "gz" (the gzip'd layer) and tag "raw" (uncompressed).
layout=$work/image
mkdir -p "$layout/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
blob() {  # FILE -> prints the digest hex; stores the blob
  local hex; hex=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$layout/blobs/sha256/$hex"; echo "$hex"
}
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
manifests=()
for kind in gz raw; do
  if [ $kind = gz ]; then file=$work/layer.tar.gz; type=application/vnd.oci.image.layer.v1.tar+gzip
  else file=$work/layer.tar; type=application/vnd.oci.image.layer.v1.tar; fi
  layer_hex=$(blob "$file"); layer_size=$(stat -c %s "$file")
  jq -cn --arg d "sha256:$diff_id" '{architecture:"amd64",os:"linux",config:{Cmd:["/bin/sh"]},rootfs:{type:"layers",diff_ids:[$d]}}' >"$work/config.json"
  config_hex=$(blob "$work/config.json"); config_size=$(stat -c %s "$work/config.json")
  jq -cn --arg c "sha256:$config_hex" --argjson cs "$config_size" --arg l "sha256:$layer_hex" --argjson ls "$layer_size" --arg t "$type" \
    '{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",
      config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$c,size:$cs},
      layers:[{mediaType:$t,digest:$l,size:$ls}]}' >"$work/manifest.json"
  manifest_hex=$(blob "$work/manifest.json"); manifest_size=$(stat -c %s "$work/manifest.json")
  manifests+=("$(jq -cn --arg d "sha256:$manifest_hex" --argjson s "$manifest_size" --arg tag "$kind" \
    '{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$d,size:$s,annotations:{"org.opencontainers.image.ref.name":$tag}}')")
done
printf '%s\n' "${manifests[@]}" | jq -cs '{schemaVersion:2,manifests:.}' >"$layout/index.json"
sync

now() { date +%s.%N; }
# time_runs NAME COMMAND...: the median of $runs wall times, each into a fresh $work/out.
time_runs() {
  local name=$1; shift
  local times=()
  for _ in $(seq "$runs"); do
    rm -rf "$work/out"; mkdir -p "$work/out"; sync
    local t0 t1; t0=$(now)
    "$@" >/dev/null 2>"$work/err" || { echo "unpack.sh: $name failed:" >&2; cat "$work/err" >&2; exit 1; }
    t1=$(now)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  rm -rf "$work/out"
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.3f\n", a[int((NR+1)/2)]}'
}

declare -A seconds
for kind in gz raw; do
  echo "unpack.sh: $kind layer: ward, umoci, tar ($runs runs each)" >&2
  seconds[ward-$kind]=$(time_runs "ward ($kind)" "$ward" unpack --max-size 64G --progress none "$layout:$kind" "$work/out/bundle")
  seconds[umoci-$kind]=$(time_runs "umoci ($kind)" umoci unpack --rootless --image "$layout:$kind" "$work/out/bundle")
  if [ $kind = gz ]; then
    seconds[tar-$kind]=$(time_runs "tar -xzf" tar -xzf "$work/layer.tar.gz" -C "$work/out")
  else
    seconds[tar-$kind]=$(time_runs "tar -xf" tar -xf "$work/layer.tar" -C "$work/out")
  fi
done

mib=$(echo "$raw_size / 1048576" | bc -l)
rate() { echo "$mib / $1" | bc -l | xargs printf '%.0f'; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

mkdir -p Benchmarks/results
{
  echo "# Unpack throughput"
  echo
  echo "One layer of \`${sources[*]}\`: $(printf '%.0f' "$mib") MiB uncompressed, $((gz_size / 1048576)) MiB gzip'd, $files entries."
  echo "Median of $runs runs, warm page cache, unpacking into $(df -T "$work" | awk 'NR==2 {print $2}') ($base), $(nproc) CPU(s), $(uname -r); $("$ward" --version | head -1), $(umoci --version)."
  echo
  echo "| layer | tool | seconds | MiB/s (uncompressed) | ward's throughput ÷ it |"
  echo "| --- | --- | ---: | ---: | ---: |"
  for kind in gz raw; do
    for tool in ward umoci tar; do
      s=${seconds[$tool-$kind]}
      echo "| $kind | $tool | $s | $(rate "$s") | $(ratio "$s" "${seconds[ward-$kind]}") |"
    done
  done
  echo
  echo "Targets: ward ≥ 2× umoci's throughput, and within 1.3× of tar -x's time (ratio vs tar ≥ 0.77)."
  echo "ward and umoci verify the blob digest and the diffID; tar -x verifies nothing."
} >Benchmarks/results/unpack.md
jq -n --arg sources "${sources[*]}" --argjson raw "$raw_size" --argjson gz "$gz_size" --argjson files "$files" --argjson runs "$runs" \
  --argjson wg "${seconds[ward-gz]}" --argjson ug "${seconds[umoci-gz]}" --argjson tg "${seconds[tar-gz]}" \
  --argjson wr "${seconds[ward-raw]}" --argjson ur "${seconds[umoci-raw]}" --argjson tr "${seconds[tar-raw]}" \
  '{sources:$sources, uncompressedBytes:$raw, gzipBytes:$gz, entries:$files, runs:$runs,
    seconds:{gz:{ward:$wg, umoci:$ug, tar:$tg}, raw:{ward:$wr, umoci:$ur, tar:$tr}},
    ratios:{gz:{wardOverUmociThroughput:($ug/$wg), tarTimeOverWard:($tg/$wg)},
            raw:{wardOverUmociThroughput:($ur/$wr), tarTimeOverWard:($tr/$wr)}}}' >Benchmarks/results/unpack.json
cat Benchmarks/results/unpack.md
