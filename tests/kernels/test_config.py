"""fastinfo.config() and fastinfo.show_config(): what this build runs with (version, OpenMP,
the SIMD variant chosen among those built, the thread count)."""

import json
import re

import numpy as np

import fastinfo


def test_config_keys_and_types():
    cfg = fastinfo.config()
    assert isinstance(cfg, dict)
    assert {"version", "openmp", "simd", "simd_available", "max_threads"} <= set(cfg)
    assert isinstance(cfg["version"], str) and cfg["version"]
    assert isinstance(cfg["openmp"], (bool, np.bool_))  # "OpenMP on/off"
    assert isinstance(cfg["max_threads"], int) and cfg["max_threads"] >= 1
    assert cfg["simd"] in cfg["simd_available"]
    assert set(cfg["simd_available"]) == set(fastinfo._dispatch.available_kernels())
    assert "baseline" in cfg["simd_available"]
    if hasattr(fastinfo, "__version__"):
        assert cfg["version"] == fastinfo.__version__


def test_show_config_prints(capsys):
    ret = fastinfo.show_config()
    assert ret is None
    out = capsys.readouterr().out
    cfg = fastinfo.config()
    assert cfg["version"] in out
    assert cfg["simd"] in out
    assert str(cfg["max_threads"]) in out
    assert re.search(r"openmp", out, re.IGNORECASE)


def test_show_config_reports_the_build(capsys):
    fastinfo.show_config()
    text = capsys.readouterr().out
    c = fastinfo.config()
    assert f"fastinfo {fastinfo.__version__}" in text
    assert ("OpenMP:        on" in text) == c["openmp"]
    assert c["simd"] in text and c["simd"] in c["simd_available"]
    assert str(c["max_threads"]) in text
    assert json.dumps(c)   # plain data
