"""The declarations generated from tools/api_table.py (the C API's five files, the kernel
stubs) are what the table generates: a hand edit to one of them, or a table edited without
running tools/generate.py, fails here."""

import os
import subprocess
import sys

GENERATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "generate.py")


def _generate(*args):
    return subprocess.run([sys.executable, GENERATE, *args], capture_output=True, text=True, timeout=120)


def test_generated_files_are_current():
    r = _generate("--check")
    assert r.returncode == 0, r.stdout + r.stderr


def test_check_names_stale_files_and_writes_nothing(tmp_path):
    assert _generate("--out-dir", str(tmp_path)).returncode == 0
    assert _generate("--check", "--out-dir", str(tmp_path)).returncode == 0
    pkg = tmp_path / "fastinfo"
    assert (pkg / "_kernels_baseline.pyi").read_text().replace('"baseline"', '"avx2"') == \
        (pkg / "_kernels_avx2.pyi").read_text()

    header = pkg / "_fi_capi.h"
    edited = header.read_text().replace("int version;", "int version;\n    void *extra;")
    header.write_text(edited)
    (pkg / "capi.pxd").unlink()
    r = _generate("--check", "--out-dir", str(tmp_path))
    assert r.returncode == 1
    stale = sorted(line.strip() for line in r.stderr.splitlines()[1:])
    assert stale == ["fastinfo/_fi_capi.h", "fastinfo/capi.pxd"], r.stderr
    assert header.read_text() == edited and not (pkg / "capi.pxd").exists()

    assert _generate("--out-dir", str(tmp_path)).returncode == 0
    assert _generate("--check", "--out-dir", str(tmp_path)).returncode == 0
    assert "void *extra" not in header.read_text()
