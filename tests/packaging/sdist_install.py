"""Build fastinfo's sdist and install it into a fresh venv without OpenMP (the baseline SIMD
level only): ``python sdist_install.py SOURCE_ROOT OUTDIR``.

The packaging tests need one such install (tests/packaging/conftest.py). Compiling takes one to
two minutes on two cores, so tests/conftest.py starts this script in the background, at the
lowest CPU priority, as soon as the session's tests are collected: the compile runs on whatever
core the other tests leave idle, and the packaging tests wait for it.

Writes OUTDIR/install.json (the sdist, venv, python and the environment it was built with) and
OUTDIR/build.log; exits non-zero, with the failing step's output in build.log, on failure.
"""

import json
import os
import subprocess
import sys
from pathlib import Path


def main(source_root, outdir):
    outdir = Path(outdir)
    log = outdir / "build.log"
    sdist_dir = outdir / "sdist"
    r = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(sdist_dir),
                        str(source_root)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        log.write_text("python -m build --sdist failed\n" + r.stdout + r.stderr)
        return 1
    (sdist,) = sdist_dir.glob("fastinfo-*.tar.gz")
    venv = outdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("FASTINFO_SIMD", None)
    env["FASTINFO_SIMD_LEVELS"] = "baseline"      # one kernel variant: the sdist check, not the speed
    env["FASTINFO_DISABLE_OPENMP"] = "1"          # the serial build a compiler without OpenMP gets
    # -v: the build's own lines (the OpenMP decision) reach the log
    r = subprocess.run([str(python), "-m", "pip", "install", "-v", str(sdist)], capture_output=True,
                       text=True, env=env, timeout=1800, cwd=outdir)
    log.write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        return 1
    (outdir / "install.json").write_text(json.dumps(
        {"sdist": str(sdist), "venv": str(venv), "python": str(python), "env": env}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
