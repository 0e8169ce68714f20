#!/usr/bin/env bash
# Runs scripts/slurm_sweep.sh for real on a one-node Slurm cluster started here, on localhost, and checks that the
# job array and its report job produce the same results as a single-process `quant-sim sweep` of the same file.
#
#   bash scripts/slurm_local_check.sh        # needs root and Debian's slurm-wlm and munge; .ci/run installs them
#   environment: QUANT_SIM (default build/quant-sim), QUANTSIM_DATA (default ../shared/data), TIMEOUT (seconds the
#   jobs may take, default 300), KEEP=1 keeps the temporary folder (it is kept anyway when the check fails)
#
# The cluster lives in a temporary folder and touches nothing of the system's: its own munge key and munged (on its
# own socket, named to Slurm by AuthInfo), a generated slurm.conf on two free ports, state, spool and logs in the
# folder. No systemd, no cgroups, no accounting: proctrack/linuxproc, task/none, jobacct_gather/none,
# accounting_storage/none, so it runs in a container too. Daemons are stopped (jobs cancelled first) on every exit.
# The sweep is resnet8_cifar10 on 200 cifar10 images when $QUANTSIM_DATA has it, else a tiny generated model and
# image folder (/usr/bin/python3 with torch); 3 configurations over 2 array tasks. The last line says PASSED or
# FAILED.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
quant_sim="$(realpath -m "${QUANT_SIM:-build/quant-sim}")"
timeout_s="${TIMEOUT:-300}"
tasks=2
start=$SECONDS

tmp=""
passed=0
failure=""

stop_cluster() {
  local status=$?
  if [ -z "$tmp" ]; then
    echo "slurm_local_check: FAILED: ${failure:-exit status $status}" >&2
    return
  fi
  # Jobs first (a killed slurmd leaves its slurmstepd and the job running), then the daemons, each by its pid file.
  if [ -f "$tmp/slurmctld.pid" ]; then
    scancel --quiet --full --user=root 2>/dev/null || true
    for _ in $(seq 20); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  for pid_file in "$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munge/munged.pid"; do
    [ -s "$pid_file" ] || continue
    pid="$(cat "$pid_file")"
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$passed" = 1 ] && [ "${KEEP:-0}" != 1 ]; then
    rm -rf "$tmp"
  else
    for log in "$tmp"/log/*.log "$tmp"/sweep/slurm_results/slurm-*.out; do
      [ -f "$log" ] || continue
      echo "--- last lines of $log" >&2
      tail -n 15 "$log" >&2
    done
    echo "slurm_local_check: kept $tmp" >&2
  fi
  [ "$passed" = 1 ] || echo "slurm_local_check: FAILED: ${failure:-exit status $status}" >&2
}
trap stop_cluster EXIT
trap 'failure="line $LINENO: $BASH_COMMAND failed"' ERR
trap 'failure="interrupted"; exit 130' INT TERM

fail() {
  failure="$*"
  exit 1
}
for tool in munged slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    fail "$tool not found (Debian packages slurm-wlm and munge)"
done
export PATH="$PATH:/usr/sbin"
[ "$(id -u)" = 0 ] || fail "must run as root (the test cluster's SlurmUser and munged are root)"
[ -x "$quant_sim" ] || fail "$quant_sim not built"

tmp="$(mktemp -d /tmp/quantsim_slurm.XXXXXX)"
# munged refuses a socket in a folder that not everyone may enter.
chmod 755 "$tmp"
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/sweep"
chmod 755 "$tmp/munge"
export SLURM_CONF="$tmp/slurm.conf"

# --- munge: a key for this cluster only, the daemon on its own socket.
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.socket" --pid-file="$tmp/munge/munged.pid" \
       --seed-file="$tmp/munge/munged.seed" --log-file="$tmp/log/munged.log" || fail "munged did not start"

# --- slurm.conf: one node, localhost, as many CPUs as this machine; two free ports (another cluster may be running).
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
cat > "$SLURM_CONF" <<EOF
ClusterName=quantsimcheck
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=localhost CPUs=$(nproc) State=UNKNOWN
PartitionName=check Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" -N localhost || fail "slurmd did not start"
for _ in $(seq 60); do
  state="$(sinfo -h -n localhost -o %T 2>/dev/null || true)"
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || fail "node localhost is '${state:-unknown}', not idle, after 30 s"
echo "slurm_local_check: slurmctld, slurmd up (ports $ctld_port $slurmd_port, $(nproc) CPUs) in $((SECONDS - start)) s"

# --- the sweep: 3 configurations (FP32, W8A8 rtn, W4A4 aciq) for 2 tasks.
data="${QUANTSIM_DATA:-$(cd "$root/.." && pwd)/shared/data}"
sweep="$tmp/sweep/sweep.json"
if [ -f "$data/models/resnet8_cifar10.pt" ] && [ -d "$data/cifar10/test" ] && [ -d "$data/cifar10/calib" ]; then
  model_entry="{\"name\": \"resnet8_cifar10\", \"model\": \"$data/models/resnet8_cifar10.pt\",
                \"data\": \"$data/cifar10/test\", \"calib_data\": \"$data/cifar10/calib\",
                \"args\": [\"--subset\", \"200\", \"-cs\", \"256\", \"-b\", \"100\"]}"
  echo "slurm_local_check: sweep of resnet8_cifar10 on 200 images of $data/cifar10/test"
else
  # No real data: a small CNN and 4 classes of random 16x16 images, made like tests/support/fixtures.cpp makes them.
  /usr/bin/python3 - "$tmp/sweep" <<'EOF' || fail "no tiny model and images (they need /usr/bin/python3 with torch)"
import os, sys
import numpy as np
import torch
from PIL import Image
out = sys.argv[1]
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                            torch.nn.Flatten(), torch.nn.Linear(8, 4)).eval()
torch.jit.script(model).save(os.path.join(out, "cnn.pt"))
rng = np.random.default_rng(0)
classes = ["a", "b", "c", "d"]
os.makedirs(os.path.join(out, "images"))
with open(os.path.join(out, "images", "classes.txt"), "w") as f:
    f.write("".join(c + "\n" for c in classes))
for c in classes:
    os.makedirs(os.path.join(out, "images", c))
    for k in range(8):
        pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(out, "images", c, f"{k}.png"))
EOF
  model_entry='{"name": "cnn", "model": "cnn.pt", "data": "images",
                "args": ["--resize", "0", "--crop", "0", "-b", "8"]}'
  echo "slurm_local_check: $data/models/resnet8_cifar10.pt not found: sweep of a tiny generated model"
fi
cat > "$sweep" <<EOF
{"models": [$model_entry],
 "fp32": true,
 "configurations": [{"method": "rtn", "weight_bits": 8, "act_bits": 8},
                    {"method": "aciq", "weight_bits": 4, "act_bits": 4}],
 "methods": {"rtn": ["-pcq_w"], "aciq": ["-pcq_w", "-pcq_a", "-c", "laplace", "-baa", "-baw", "-bcw"]},
 "common": [], "stats_dir": "statistics"}
EOF

# --- submit from another folder than the repository, as a user would from their work folder.
results="$tmp/sweep/slurm_results/results.jsonl"
submit="$(cd "$tmp/sweep" &&
          RESULTS="$results" QUANT_SIM="$quant_sim" bash "$root/scripts/slurm_sweep.sh" sweep.json "$tasks")" ||
  fail "slurm_sweep.sh failed: $submit"
echo "$submit"
waited=0
while [ -n "$(squeue -h -o %i)" ]; do
  [ "$waited" -lt "$timeout_s" ] || fail "jobs still queued or running after $timeout_s s: $(squeue -h)"
  sleep 2
  waited=$((waited + 2))
done
echo "slurm_local_check: the array and the report job ended after $waited s"

# Every job (the array's tasks and the report) completed with exit code 0; scontrol keeps ended jobs for MinJobAge.
jobs="$(scontrol -o show job)"
[ "$(grep -c . <<<"$jobs")" = $((tasks + 1)) ] || fail "expected $((tasks + 1)) jobs, scontrol shows: $jobs"
if grep -v 'JobState=COMPLETED .*ExitCode=0:0' <<<"$jobs" | grep -q .; then
  summary="$(sed -E 's/^JobId=([0-9]+) .*JobName=([^ ]+) .*JobState=([^ ]+) .*ExitCode=([^ ]+).*/\1 \2 \3 exit \4;/' \
             <<<"$jobs" | tr '\n' ' ')"
  fail "a job did not complete: $summary"
fi
for file in table.md table.csv report.html accuracy_vs_bits.png; do
  [ -s "$tmp/sweep/slurm_results/$file" ] || fail "the report job did not write $file"
done

# --- the same sweep in one process, with its own statistics; then results key for key.
"$quant_sim" sweep "$sweep" --results "$tmp/sweep/single/results.jsonl" --stats-dir "$tmp/sweep/single/statistics" \
  > "$tmp/log/single.log" 2>&1 || fail "single-process sweep failed: $(tail -n 5 "$tmp/log/single.log")"
python3 - "$results" "$tmp/sweep/single/results.jsonl" "$tmp"/sweep/slurm_results/slurm-*_*.out <<'EOF' ||
import json, re, sys
# What differs between two runs of the same configuration: when, how fast, and (in the config) where the results
# and statistics went. Everything else, accuracy and config alike, must be equal.
VOLATILE = {"timestamp", "times", "images_per_second"}
VOLATILE_CONFIG = {"results", "stats_dir"}
def strip(record):
    record = {k: v for k, v in record.items() if k not in VOLATILE}
    record["config"] = {k: v for k, v in record["config"].items() if k not in VOLATILE_CONFIG}
    return record
def load(path):
    by_key = {}
    for line in open(path):
        if line.strip():
            record = json.loads(line)
            key = record["config"]["sweep_key"]
            if key in by_key:
                sys.exit(f"{path}: {key} twice")
            by_key[key] = strip(record)
    return by_key
slurm, single = load(sys.argv[1]), load(sys.argv[2])
if sorted(slurm) != sorted(single):
    sys.exit(f"configurations differ: slurm {sorted(slurm)} vs single {sorted(single)}")
for key in sorted(slurm):
    if slurm[key] != single[key]:
        diff = {k: (slurm[key].get(k), single[key].get(k)) for k in set(slurm[key]) | set(single[key])
                if slurm[key].get(k) != single[key].get(k)}
        sys.exit(f"{key} differs (slurm, single): {diff}")
    print(f"  {key}: top1 {slurm[key].get('top1')} in both")
ran = [int(m.group(1)) for log in sys.argv[3:] for m in re.finditer(r"(\d+) ran", open(log).read())]
if len(sys.argv) - 3 != 2 or sum(ran) != len(slurm):
    sys.exit(f"the array tasks' logs say {ran} ran (expected {len(slurm)} in all, over 2 logs)")
print(f"  array tasks ran {' + '.join(map(str, ran))} configurations")
EOF
  fail "results of the Slurm run and the single-process run differ"
passed=1
echo "slurm_local_check: PASSED in $((SECONDS - start)) s (job array of $tasks tasks + report job = one-process sweep)"
