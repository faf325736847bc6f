#!/usr/bin/env python3
"""Triage a fleet's kernel crash dumps on a distributed engine and bucket them by signature.

    scripts/fleet-triage.py [--engine dask|ray] [--scheduler ADDRESS] [--workers N]
                            [--crashsh PATH] [--vmlinux FILE] [--buckets] ROOT...

ROOT is a dump file, a directory (walked for dump files: ELF cores, kdump-compressed and
flattened files, told by their first bytes) or an object store prefix that fsspec can list
(s3://bucket/prefix/, gs://...; each object is copied to a local temporary file first).

Each dump is one task: the worker runs `crashsh triage --json [--vmlinux FILE] DUMP` and
returns its JSON line. The driver prints every report line, in the order the dumps were found,
then one `{"command":"triage --buckets","result":{"buckets":[...]}}` line: the same shape,
signatures and counts as `crashsh triage --json DUMP...` on one machine (docs/triage.md).

Without --scheduler the engine runs in local mode on this machine (Dask: a LocalCluster;
Ray: ray.init() with no address). With --scheduler the tasks go to an existing cluster
(Dask: tcp://HOST:8786; Ray: ray://HOST:10001 or "auto"); crashsh, the vmlinux and the dumps
(or the object store) must then be reachable from every worker at the same paths.

Dask is the default: see docs/triage.md for the measurements that chose it.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ELF_MAGIC = b"\x7fELF"
KDUMP_MAGIC = b"KDUMP   "
FLAT_MAGIC = b"makedumpfile\0"  # the signature field is NUL-padded to 16 bytes
ET_CORE = 4


def is_dump_header(head):
    """True for the first bytes of a dump crashsh opens: an ELF core file (not a vmlinux),
    a kdump-compressed file, or makedumpfile's flattened format."""
    if head.startswith(KDUMP_MAGIC) or head.startswith(FLAT_MAGIC):
        return True
    if head.startswith(ELF_MAGIC) and len(head) >= 18:
        little = head[5] == 1
        e_type = int.from_bytes(head[16:18], "little" if little else "big")
        return e_type == ET_CORE
    return False


def local_dumps(root):
    """The dump files at or under a local path, sorted."""
    paths = [root] if os.path.isfile(root) else [
        os.path.join(d, f) for d, _, files in os.walk(root) for f in files]
    found = []
    for p in sorted(paths):
        try:
            with open(p, "rb") as f:
                if is_dump_header(f.read(32)):
                    found.append(p)
        except OSError:
            continue
    return found


def object_store_dumps(prefix):
    """The objects under an object store prefix whose first bytes are a dump's."""
    import fsspec  # installed with dask
    fs, _, paths = fsspec.get_fs_token_paths(prefix)
    found = []
    for p in sorted(fs.find(paths[0])):
        with fs.open(p, "rb") as f:
            if is_dump_header(f.read(32)):
                found.append(fs.unstrip_protocol(p))
    return found


def triage_one(dump, crashsh, vmlinux):
    """Runs crashsh on one dump (copied locally first when it is an object); returns
    {"dump", "line", "ok"}. Runs on a worker."""
    local, tmpdir = dump, None
    try:
        if "://" in dump:
            import fsspec
            tmpdir = tempfile.mkdtemp(prefix="fleet-triage-")
            local = os.path.join(tmpdir, os.path.basename(dump) or "dump")
            with fsspec.open(dump, "rb") as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        cmd = [crashsh, "triage", "--json"] + (["--vmlinux", vmlinux] if vmlinux else []) + [local]
        run = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        line = run.stdout.splitlines()[0] if run.stdout else ""
        try:
            ok = "result" in json.loads(line)
        except ValueError:
            ok = False
        if not ok:
            message = (run.stderr.strip().splitlines() or ["crashsh exited with status %d" % run.returncode])[0]
            line = json.dumps({"command": "triage", "error": "%s (%s)" % (message, dump)}, separators=(",", ":"))
        elif local != dump:
            # The report names the object, not the temporary copy.
            record = json.loads(line)
            record["result"]["dump"] = dump
            line = json.dumps(record, separators=(",", ":"))
        return {"dump": dump, "line": line, "ok": ok}
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def buckets(outcomes):
    """The dumps grouped by signature hash: the largest bucket first, ties in the order the
    dumps were found. The same rule as crashsh's own buckets."""
    order, by_hash = [], {}
    for o in outcomes:
        if not o["ok"]:
            continue
        result = json.loads(o["line"])["result"]
        sig = result["signature"]
        date = result["system"].get("date")
        b = by_hash.get(sig["hash"])
        if b is None:
            b = by_hash[sig["hash"]] = {"signature": sig["hash"], "title": sig["title"], "kind": sig["kind"],
                                        "count": 0, "first_seen": None, "last_seen": None,
                                        "example": o["dump"], "dumps": []}
            order.append(sig["hash"])
        b["count"] += 1
        b["dumps"].append(o["dump"])
        if date is not None:
            b["first_seen"] = date if b["first_seen"] is None else min(b["first_seen"], date)
            b["last_seen"] = date if b["last_seen"] is None else max(b["last_seen"], date)
    ranked = sorted(enumerate(order), key=lambda e: (-by_hash[e[1]]["count"], e[0]))
    return [by_hash[h] for _, h in ranked]


def run_dask(dumps, crashsh, vmlinux, scheduler, workers):
    from dask.distributed import Client, LocalCluster
    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        # Each task waits on a crashsh child process: threads in one worker process suffice.
        cluster = LocalCluster(n_workers=1, threads_per_worker=workers, processes=False,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(triage_one, dumps, crashsh=crashsh, vmlinux=vmlinux, pure=False)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_ray(dumps, crashsh, vmlinux, scheduler, workers):
    import ray
    if scheduler:
        ray.init(address=scheduler, log_to_driver=False)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(triage_one)
        return ray.get([remote.remote(d, crashsh, vmlinux) for d in dumps])
    finally:
        ray.shutdown()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", choices=["dask", "ray"], default="dask")
    ap.add_argument("--scheduler", help="an existing cluster's address (default: local mode)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local mode: tasks at once")
    ap.add_argument("--crashsh", default=shutil.which("crashsh") or "crashsh")
    ap.add_argument("--vmlinux")
    ap.add_argument("--buckets", action="store_true", help="print only the buckets line")
    ap.add_argument("roots", nargs="+")
    args = ap.parse_args(argv)

    dumps = []
    for root in args.roots:
        dumps += object_store_dumps(root) if "://" in root else local_dumps(root)
    if not dumps:
        print("fleet-triage: no dump files under %s" % " ".join(args.roots), file=sys.stderr)
        return 1
    crashsh = os.path.abspath(args.crashsh) if os.path.exists(args.crashsh) else args.crashsh
    engine = run_dask if args.engine == "dask" else run_ray
    outcomes = engine(dumps, crashsh, args.vmlinux, args.scheduler, max(1, args.workers))
    for o in outcomes:
        if not args.buckets:
            print(o["line"])
        if not o["ok"]:
            print("fleet-triage: " + json.loads(o["line"])["error"], file=sys.stderr)
    print(json.dumps({"command": "triage --buckets", "result": {"buckets": buckets(outcomes)}},
                     separators=(",", ":")))
    return 0 if all(o["ok"] for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
