"""Benchmark (not a test): first-run extraction of a .pyz against shiv's way of extracting.

    python3 bench_first_run.py PYTHON RUNS ROOT ARCHIVE... [--variants zipfile,first-run,1:fork,2:fork,2:thread] [--keep]

For every archive, interleaved (the order rotates each round), RUNS times each:
  zipfile    PYTHON -c "zipfile.ZipFile(payload).extractall(dest)": single-threaded, what shiv does,
             on the archive's payload copied out to a plain zip file beforehand
  first-run  PYTHON ARCHIVE with a fresh SHIV_ROOT: the whole first start (extraction, manifest,
             clean-up, the app itself), as a user sees it
  N:MODE     PYTHON -c "_unzip.extract_payload(..., workers=N, use_fork=MODE == 'fork')": the
             extractor alone with N workers (fork = processes, thread = threads)
Every extraction is checked against the zipfile one (file count and bytes) before any time counts.
Prints the median wall and CPU time (user + system, children included) of each, and the ratio of
the wall medians to zipfile's. Outputs go to fresh directories under ROOT and are all deleted at
the end, never between runs: on ext4 without a journal, inode allocation skips every inode freed
in the last 60 s (more while its inode table block is dirty; fs/ext4/ialloc.c recently_deleted),
so deleting thousands of files makes the next runs' file creation several times slower. That
holds for the next benchmark too: give each one a fresh ROOT (a new top-level directory lands in
other block groups) and --keep the outputs, deleting them once the measurements are over.
Before each run the harness syncs (earlier runs' dirty pages and journal are written back now,
not inside a timed run) and waits (up to 30 s) for the CPUs to be idle, so that another process's
burst of work (a compiler, the kernel writing back earlier runs' files) does not land in one run;
the number of such waits is printed.
"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import zipfile

IDLE_SHARE = 0.9  # of all CPUs, over IDLE_WINDOW seconds, before a timed run starts
IDLE_WINDOW = 0.25
IDLE_PATIENCE = 30.0


def cpu_times():
    """(idle, total) jiffies of all CPUs (/proc/stat), or None where there is no /proc."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(field) for field in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + fields[4], sum(fields)  # idle + iowait


def wait_for_idle_cpus():
    """True if the CPUs had to be waited for (they were busy with something else)."""
    deadline = time.monotonic() + IDLE_PATIENCE
    waited = False
    while time.monotonic() < deadline:
        before = cpu_times()
        if before is None:
            return False
        time.sleep(IDLE_WINDOW)
        after = cpu_times()
        if after[1] > before[1] and (after[0] - before[0]) / (after[1] - before[1]) >= IDLE_SHARE:
            return waited
        waited = True
    return waited

EXTRACT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from _pyz_bootstrap import _unzip; "
    "_unzip.extract_payload(sys.argv[1], sys.argv[2], sys.argv[3], workers=int(sys.argv[4]), use_fork=sys.argv[5] == 'fork')"
)
BASELINE = "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])"


def main():
    arguments = sys.argv[1:]
    variants = ["zipfile", "first-run", "1:fork", "2:fork", "2:thread"]
    if "--variants" in arguments:
        index = arguments.index("--variants")
        variants = arguments[index + 1].split(",")
        del arguments[index:index + 2]
    keep = "--keep" in arguments
    if keep:
        arguments.remove("--keep")
    python, runs, root, archives = arguments[0], int(arguments[1]), arguments[2], arguments[3:]
    # The interpreter itself, not a launcher in front of it: a pyenv shim is a shell script that
    # adds ~80 ms to every run, which would pull every ratio towards 1.
    python = subprocess.check_output([python, "-c", "import sys; print(sys.executable)"]).decode().strip() or python
    os.makedirs(root, exist_ok=True)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SHIV_")}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    payloads = {}
    for archive in archives:
        with zipfile.ZipFile(archive) as outer:
            name = json.loads(outer.read("environment.json"))["payload"]
            payloads[archive] = (name, os.path.join(root, os.path.basename(archive) + ".payload.zip"))
            with open(payloads[archive][1], "wb") as handle:
                handle.write(outer.read(name))

    def command(variant, archive, destination):
        name, payload = payloads[archive]
        if variant == "zipfile":
            return [python, "-c", BASELINE, payload, destination], environment
        if variant == "first-run":
            return [python, archive], dict(environment, SHIV_ROOT=destination)
        workers, mode = variant.split(":")
        return [python, "-c", EXTRACT, archive, name, destination, workers, mode], environment

    def site_packages(variant, destination):
        if variant != "first-run":
            return destination
        (extraction,) = [entry for entry in os.listdir(destination) if "." not in entry and entry != "CACHEDIR.TAG"]
        return os.path.join(destination, extraction, "site-packages")

    def summary(directory):
        files, size = 0, 0
        for folder, subdirectories, names in os.walk(directory):
            subdirectories[:] = [entry for entry in subdirectories if entry != "__pycache__"]
            for entry in names:
                files += 1
                size += os.lstat(os.path.join(folder, entry)).st_size
        return files, size

    wall, cpu, loads, outputs, counter, waits = {}, {}, [], [], 0, 0
    expected = {}
    for round_index in range(runs):
        for archive in archives:
            order = variants[round_index % len(variants):] + variants[:round_index % len(variants)]
            for variant in order:
                counter += 1
                destination = os.path.join(root, "%d-%s" % (counter, variant.replace(":", "-")))
                args, env = command(variant, archive, destination)
                if hasattr(os, "sync"):
                    os.sync()  # earlier runs' writeback, done now rather than inside a timed run
                waits += wait_for_idle_cpus()
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                result = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                elapsed = time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if result.returncode != 0:
                    raise SystemExit("%s failed: %s" % (" ".join(args), result.stderr.decode()))
                if (archive, variant) not in wall:  # correct output first, then time it
                    got = summary(site_packages(variant, destination))
                    expected.setdefault(archive, got)
                    if got != expected[archive]:
                        raise SystemExit("%s extracted %r, zipfile %r" % (variant, got, expected[archive]))
                wall.setdefault((archive, variant), []).append(elapsed)
                cpu.setdefault((archive, variant), []).append(
                    after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                outputs.append(destination)
        loads.append(os.getloadavg()[0])
    for destination in outputs if not keep else ():
        shutil.rmtree(destination, ignore_errors=True)
    print("%s, %d runs each, interleaved, under %s; 1-min load average %.1f-%.1f on %d CPUs; waited for idle CPUs before %d of %d runs" % (
        python, runs, root, min(loads), max(loads), os.cpu_count(), waits, counter))
    for archive in archives:
        files, size = expected[archive]
        base = statistics.median(wall[(archive, variants[0])])
        print("%s: %d files, %.1f MB" % (os.path.basename(archive), files, size / 1e6))
        for variant in variants:
            times = wall[(archive, variant)]
            print("  %-10s wall median %6.0f ms (min %5.0f, max %5.0f)  %.2fx %s   CPU median %6.0f ms" % (
                variant, statistics.median(times) * 1e3, min(times) * 1e3, max(times) * 1e3,
                statistics.median(times) / base, variants[0], statistics.median(cpu[(archive, variant)]) * 1e3))


if __name__ == "__main__":
    main()
