#!/usr/bin/env python3
"""A real Slurm run. A single-node cluster from Debian's packages (munge, slurmctld and slurmd with a generated
slurm.conf, everything under a temporary directory, stopped afterwards) runs a sweep as a job array through
scripts/slurm-sweep.sh; the shards merged must equal a one-machine run of the same sweep. A second run requeues a
task mid-way and checks that it resumed: no point lost, none run twice. When the daemons cannot start, the test
fails and says why (it never passes without a cluster).

    slurm_test.py EINSIM
"""
import csv
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "tests" / "data" / "sweep" / "slurm.yaml"
POINTS = 1500  # the sweep's points (one fidelity)
TASKS = 3
TOOLS = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "scancel"]


class Failed(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path}: no log)"


class Cluster:
    """munged, slurmctld and slurmd of one node, configured and logging under `tmp`."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.conf = tmp / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self.munge = tmp / "munge"

    def run(self, *args, check=True):
        r = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise Failed(f"{' '.join(map(str, args))} exited {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
        return r.stdout

    def start(self):
        self.munge.mkdir(mode=0o700)
        key = self.munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        socket_path = self.munge / "munge.socket"
        self.run("munged", "--force", f"--socket={socket_path}", f"--key-file={key}",
                 f"--log-file={self.munge / 'munged.log'}", f"--pid-file={self.munge / 'munged.pid'}",
                 f"--seed-file={self.munge / 'munged.seed'}")
        host = socket.gethostname().split(".")[0]  # reached at 127.0.0.1: no name service needed
        user = pwd.getpwuid(os.getuid()).pw_name
        for d in ("state", "spool"):
            (self.tmp / d).mkdir()
        self.conf.write_text(f"""ClusterName=einsimtest
SlurmctldHost={host}(127.0.0.1)
SlurmUser={user}
SlurmdUser={user}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={socket_path}
CredType=cred/munge
StateSaveLocation={self.tmp / 'state'}
SlurmdSpoolDir={self.tmp / 'spool'}
SlurmctldPidFile={self.tmp / 'slurmctld.pid'}
SlurmdPidFile={self.tmp / 'slurmd.pid'}
SlurmctldLogFile={self.tmp / 'slurmctld.log'}
SlurmdLogFile={self.tmp / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} State=UNKNOWN
PartitionName=einsim Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
        self.run("slurmctld", "-f", str(self.conf))
        self.run("slurmd", "-f", str(self.conf))
        deadline = time.time() + 30
        while time.time() < deadline:
            state = self.run("sinfo", "-h", "-o", "%T", check=False).strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise Failed(f"the Slurm daemons did not start (node state '{state}')\nslurmctld.log:\n"
                     f"{tail(self.tmp / 'slurmctld.log')}\nslurmd.log:\n{tail(self.tmp / 'slurmd.log')}")

    def stop(self):
        subprocess.run(["scancel", "--user", str(os.getuid())], env=self.env, capture_output=True, timeout=30)
        pids = []
        for pid_file in (self.tmp / "slurmd.pid", self.tmp / "slurmctld.pid", self.munge / "munged.pid"):
            try:
                pids.append(int(pid_file.read_text().strip()))
                os.kill(pids[-1], 15)
            except (OSError, ValueError):
                pass
        deadline = time.time() + 10  # then no daemon outlives the test
        for pid in pids:
            while time.time() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, 9)

    def submit(self, out, log):
        """The sweep as a job array through scripts/slurm-sweep.sh, as docs/sweeps.md shows it."""
        return self.run("sbatch", "--parsable", f"--array=1-{TASKS}", "--cpus-per-task=1", f"--chdir={ROOT}",
                        f"--output={log}", "--open-mode=append",
                        f"--export=ALL,SWEEP={SWEEP},OUT={out},EINSIM={EINSIM}",
                        str(ROOT / "scripts" / "slurm-sweep.sh")).strip()

    def states(self, job):
        """Each array task's state and exit code, from the controller (kept MinJobAge after they end)."""
        text = self.run("scontrol", "-o", "show", "job", job, check=False)
        out = {}
        for line in text.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if "ArrayTaskId" in fields:
                out[fields["ArrayTaskId"]] = (fields.get("JobState"), fields.get("ExitCode"))
        return out

    def wait(self, job, timeout=150):
        deadline = time.time() + timeout
        while time.time() < deadline:
            states = self.states(job)
            if len(states) == TASKS and all(s in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL")
                                            for s, _ in states.values()):
                bad = {t: s for t, s in states.items() if s != ("COMPLETED", "0:0")}
                if bad:
                    raise Failed(f"job {job}: tasks did not complete: {bad}")
                return
            time.sleep(0.5)
        raise Failed(f"job {job} still running after {timeout} s: {self.states(job)}")


def rows(directory):
    with open(Path(directory) / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def merge_and_compare(out, local):
    shards = sorted(str(p) for p in Path(out).glob("shard-*"))
    if len(shards) != TASKS:
        raise Failed(f"{out}: {len(shards)} shard directories, expected {TASKS}")
    subprocess.run([EINSIM, "merge", *shards, "-o", f"{out}/all"], check=True, capture_output=True, timeout=120)
    merged = rows(f"{out}/all")
    keys = [(r["point"], r["fidelity"]) for r in merged]
    if len(keys) != POINTS or len(set(keys)) != POINTS:
        raise Failed(f"{out}: {len(keys)} rows, {len(set(keys))} distinct, expected {POINTS}")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare-results"), local, f"{out}/all"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise Failed(f"{out}: the merged shards differ from the one-machine run:\n{r.stdout}")


def done_points(shard):
    try:
        with sqlite3.connect(f"file:{shard}/results.sqlite?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


def main():
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        raise Failed(f"Slurm is not installed here ({', '.join(missing)} missing): run ./scripts/setup")
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="einsim-slurm-"))
    cluster = Cluster(tmp)
    try:
        cluster.start()
        local = str(tmp / "local")
        subprocess.run([EINSIM, "sweep", str(SWEEP), "-o", local, "-j", str(os.cpu_count())], check=True,
                       capture_output=True, timeout=300)

        # 1. The job array's shards, merged, equal the one-machine run.
        job = cluster.submit(tmp / "run1", tmp / "run1-%a.log")
        cluster.wait(job)
        merge_and_compare(tmp / "run1", local)
        print(f"job array {job}: {TASKS} tasks, merged {POINTS} points equal to the one-machine run")

        # 2. A task requeued mid-way resumes: it keeps what it wrote and runs only the rest.
        job = cluster.submit(tmp / "run2", tmp / "run2-%a.log")
        shard = tmp / "run2" / "shard-2"
        deadline = time.time() + 120
        while done_points(shard) < 50:
            if time.time() > deadline or cluster.states(job).get("2", ("",))[0] == "COMPLETED":
                raise Failed(f"task 2 of job {job} finished before it could be requeued mid-way: make the sweep "
                             f"longer ({done_points(shard)} points written)")
            time.sleep(0.05)
        before = done_points(shard)
        cluster.run("scontrol", "requeue", f"{job}_2")
        # Slurm holds a requeued task back for two minutes (its BeginTime) once it is pending again; let it start.
        deadline = time.time() + 60
        while cluster.states(job).get("2", ("",))[0] != "PENDING":
            if time.time() > deadline:
                raise Failed(f"task 2 of job {job} did not return to the queue: {cluster.states(job)}")
            time.sleep(0.2)
        cluster.run("scontrol", "update", f"JobId={job}_2", "StartTime=now")
        cluster.wait(job)
        log = (tmp / "run2-2.log").read_text()
        summary = [line for line in log.splitlines() if "points in this shard" in line]
        kept = re.search(r"(\d+) already done", summary[-1]) if summary else None
        if not kept or int(kept.group(1)) == 0:  # (a plain "0 already done" test also matches "50 already done")
            raise Failed(f"task 2 did not resume after its requeue (it had written {before} points):\n{log[-2000:]}")
        merge_and_compare(tmp / "run2", local)
        print(f"job array {job}: task 2 requeued after {before} points; it resumed ({summary[-1].strip()}), and the "
              f"merged {POINTS} points equal the one-machine run")
        print(f"slurm OK in {time.time() - started:.1f} s")
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    EINSIM = os.path.abspath(sys.argv[1])
    try:
        main()
    except (Failed, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print(f"slurm test FAILED: {e}", file=sys.stderr)
        sys.exit(1)
