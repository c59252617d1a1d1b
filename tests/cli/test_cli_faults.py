"""Faults a long ``fastinfo score`` run meets, each in a child process: an input truncated
while it is read (no SIGBUS), a full disk and a file size limit, a read-only output folder,
SIGTERM and SIGHUP, out of memory, two runs racing for one output. Each ends with one line
on stderr and its documented exit status, leaves no output and no ``.part`` file, and
never touches the input.

Mid-run is made deterministic, not timed: the child is stopped (SIGSTOP) once its
temporary output exists, the fault is arranged, and the child is continued.
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import scipy.special
import scipy.stats
from helpers import fastinfo_env, run_python

ROWS, CLASSES = 4_000, 1_000


def _default_signals():
    # a test run started from a non-interactive shell may ignore SIGINT or SIGHUP, and children
    # inherit that (fastinfo keeps a signal its parent ignores ignored): restore the defaults
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


def start(args, cwd, preexec=None, code=None):
    head = ["-c", code] if code else ["-m", "fastinfo"]

    def pre():
        _default_signals()
        if preexec:
            preexec()
    return subprocess.Popen([sys.executable, *head, *map(str, args)], cwd=cwd, env=fastinfo_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pre)


def finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def assert_one_line(rc, err, status, message):
    lines = err.strip().splitlines()
    assert rc == status, (rc, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0], lines[0]


def parts(folder):
    return [n for n in os.listdir(folder) if n.endswith(".part")]


def stop_mid_run(proc, folder):
    """Wait until the child has created its temporary output, then SIGSTOP it there."""
    deadline = time.monotonic() + 60
    while not parts(folder):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temporary output appeared"
        time.sleep(0.005)
    proc.send_signal(signal.SIGSTOP)
    time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be stopped"


@pytest.fixture(scope="module")
def logits(tmp_path_factory):
    """ROWS x CLASSES float32 logits: with --chunk-rows 1, a run of a second or more."""
    path = tmp_path_factory.mktemp("faults") / "logits.npy"
    x = np.zeros((ROWS, CLASSES), dtype=np.float32)
    x[:, 0] = 1
    np.save(path, x)
    return path


def slow_score(inp, out, *extra):
    return ["score", inp, "--measure", "softmax_entropy", "--chunk-rows", "1", "--threads", "1", "-o", out,
            *extra]


@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_signal_mid_run_leaves_no_file(logits, tmp_path, sig, status):
    before = os.stat(logits)
    proc = start(slow_score(logits, tmp_path / "out.npy"), tmp_path)
    stop_mid_run(proc, tmp_path)
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)
    rc, _, err = finish(proc)
    assert_one_line(rc, err, status, "no output written")
    assert os.listdir(tmp_path) == []
    assert os.stat(logits).st_mtime_ns == before.st_mtime_ns


def test_input_truncated_while_read_is_an_error_not_sigbus(logits, tmp_path):
    inp = tmp_path / "in.npy"
    shutil.copyfile(logits, inp)
    out = tmp_path / "out.npy"
    proc = start(slow_score(inp, out), tmp_path)
    stop_mid_run(proc, tmp_path)
    os.truncate(inp, 4096)                        # the header and a row: every later row is gone
    proc.send_signal(signal.SIGCONT)
    rc, _, err = finish(proc)
    assert rc != -signal.SIGBUS and rc != 128 + signal.SIGBUS, err
    assert_one_line(rc, err, 1, "truncated while being read")
    assert sorted(os.listdir(tmp_path)) == ["in.npy"]


def test_two_runs_on_one_output(logits, tmp_path):
    # run A is stopped mid-run; run B writes the same output meanwhile. A must not replace B's
    # file without --force: it reports that the output exists and removes its temporary file
    out = tmp_path / "out.npy"
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((3, 4), dtype=np.float32))
    a = start(slow_score(logits, out), tmp_path)
    stop_mid_run(a, tmp_path)
    b = run_python(["-m", "fastinfo", "score", str(small), "--measure", "softmax_entropy", "-o", str(out)],
                   cwd=tmp_path)
    assert b.returncode == 0, b.stderr
    b_result = out.read_bytes()
    a.send_signal(signal.SIGCONT)
    rc, _, err = finish(a)
    assert_one_line(rc, err, 2, "exists")
    assert out.read_bytes() == b_result
    assert sorted(os.listdir(tmp_path)) == ["out.npy", "small.npy"]
    # with --force the later run replaces the file, in one step
    a = start(slow_score(logits, out, "--force"), tmp_path)
    stop_mid_run(a, tmp_path)
    assert out.read_bytes() == b_result            # the old file stays whole until the end
    a.send_signal(signal.SIGCONT)
    rc, _, err = finish(a)
    assert rc == 0, err
    got = np.load(out)
    assert got.shape == (ROWS,)
    row = np.zeros(CLASSES)
    row[0] = 1
    np.testing.assert_allclose(got, scipy.stats.entropy(scipy.special.softmax(row)), rtol=1e-5)
    assert sorted(os.listdir(tmp_path)) == ["out.npy", "small.npy"]


# a child that writes the result without reserving its space first (posix_fallocate), so the
# limit is met by a write in the middle of the run, not before it
NO_FALLOCATE = ("import os, sys\n"
                "if hasattr(os, 'posix_fallocate'): del os.posix_fallocate\n"
                "from fastinfo._cli import main\n"
                "sys.exit(main(sys.argv[1:]))\n")


@pytest.mark.parametrize("reserve", [True, False], ids=["fallocate", "writes"])
def test_file_size_limit_is_one_line(tmp_path, reserve):
    # RLIMIT_FSIZE: a write past it fails with EFBIG (fastinfo ignores SIGXFSZ, whose default
    # action would kill it), like a full disk
    x = np.random.default_rng(0).standard_normal((200_000, 3))     # a 1.6 MB result
    inp = tmp_path / "x.npy"
    np.save(inp, x)
    limit = 256 * 1024
    proc = start(["score", inp, "--measure", "logsumexp", "--chunk-rows", "1000", "-o", tmp_path / "out.npy"],
                 tmp_path, preexec=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
                 code=None if reserve else NO_FALLOCATE)
    rc, _, err = finish(proc)
    assert_one_line(rc, err, 1, "File too large")
    assert os.listdir(tmp_path) == ["x.npy"]


def _unshare_works():
    if not shutil.which("unshare"):
        return False
    d = tempfile.mkdtemp()
    try:
        r = subprocess.run(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k none "$1"', "sh", d],
                           capture_output=True, timeout=30)
        return r.returncode == 0
    finally:
        os.rmdir(d)


needs_tmpfs = pytest.mark.skipif(sys.platform != "linux" or not _unshare_works(),
                                 reason="needs a private mount namespace (unshare -rm) to mount a tmpfs")


def _in_small_tmpfs(tmp_path, inner, remount_ro=False, **env):
    """Run the shell command ``inner`` with a 1 MB tmpfs mounted on $M (tmp_path/mnt) in a private
    mount namespace, gone when the command ends: (its exit status, its stderr, what it left in $M)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    ro = 'mount -o remount,ro "$M" && ' if remount_ro else ""
    script = (f'M="$1"; mount -t tmpfs -o size=1m none "$M" && {ro}{{ {inner}; }}; rc=$?; '
              f'echo "LEFT:$(ls -A "$M" | tr "\\n" " ")" >&2; exit $rc')
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(mnt)], cwd=tmp_path,
                       env=fastinfo_env(**env), capture_output=True, text=True, timeout=120)
    *lines, left = r.stderr.strip().splitlines()
    assert left.startswith("LEFT:"), r.stderr
    return r.returncode, "\n".join(lines), left[5:].split()


@needs_tmpfs
@pytest.mark.parametrize("reserve", [True, False], ids=["fallocate", "writes"])
def test_full_disk_is_one_line(tmp_path, reserve):
    x = np.random.default_rng(0).standard_normal((300_000, 3))     # a 2.4 MB result on a 1 MB disk
    np.save(tmp_path / "x.npy", x)
    head = f'"{sys.executable}" -m fastinfo' if reserve else f'"{sys.executable}" -c "$CODE"'
    rc, err, left = _in_small_tmpfs(
        tmp_path, f'{head} score x.npy --measure logsumexp --chunk-rows 1000 -o "$M/out.npy"', CODE=NO_FALLOCATE)
    assert_one_line(rc, err, 1, "No space left on device")
    assert left == []


@needs_tmpfs
def test_read_only_file_system_is_one_line(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 3)))
    rc, err, left = _in_small_tmpfs(
        tmp_path, f'"{sys.executable}" -m fastinfo score x.npy --measure logsumexp -o "$M/out.npy"',
        remount_ro=True)
    assert_one_line(rc, err, 2, "cannot create a file in")
    assert left == []


def test_read_only_folder_is_one_line(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 3)))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    cmd = [sys.executable, "-m", "fastinfo", "score", "x.npy", "--measure", "logsumexp", "-o", "ro/out.npy"]
    if os.geteuid() == 0:      # root writes anywhere: drop the capability that lets it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    try:
        r = subprocess.run(cmd, cwd=tmp_path, env=fastinfo_env(), capture_output=True, text=True, timeout=120)
        assert_one_line(r.returncode, r.stderr, 2, "cannot create a file in")
        assert os.listdir(ro) == []
    finally:
        ro.chmod(0o755)


def test_out_of_memory_is_one_line(tmp_path):
    # an 8 GB input (a sparse file) read in one chunk under a 3 GB address-space limit: the
    # chunk's buffer cannot be allocated
    inp = tmp_path / "huge.npy"
    rows, k = 1_000_000, 2_000
    with open(inp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (rows, k)})
        f.truncate(f.tell() + rows * k * 4)
    limit = 3 << 30
    proc = start(["score", inp, "--measure", "logsumexp", "--chunk-rows", str(rows), "-o", tmp_path / "out.npy"],
                 tmp_path, preexec=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    rc, _, err = finish(proc)
    assert_one_line(rc, err, 1, "out of memory")
    assert os.listdir(tmp_path) == ["huge.npy"]


def test_labels_out_of_range_in_a_child_is_one_line(tmp_path):
    # what a user sees: one line naming the row in the file, no traceback
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.standard_normal((3000, 5)).astype(np.float32))
    y = rng.integers(0, 5, 3000)
    y[2500] = 2 ** 40
    np.save(tmp_path / "y.npy", y)
    r = run_python(["-m", "fastinfo", "score", "x.npy", "--measure", "softmax_cross_entropy", "--labels", "y.npy",
                    "--chunk-rows", "1000", "-o", "out.npy"], cwd=tmp_path)
    assert_one_line(r.returncode, r.stderr, 2, f"label {2 ** 40} at row 2500 is out of range")
    assert r.stdout == "" and sorted(os.listdir(tmp_path)) == ["x.npy", "y.npy"]


def test_bare_command_prints_help_not_the_demo(tmp_path):
    r = run_python(["-m", "fastinfo"], cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("usage: fastinfo") and r.stderr == ""
    assert "generating" not in r.stdout and os.listdir(tmp_path) == []
