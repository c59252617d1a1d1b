"""bench/roofline.py --report: saved runs rendered as the Markdown table the live run prints,
with verdicts worked out by hand from the saved times."""

import json

from helpers import load_bench_script

roofline = load_bench_script("roofline")


def _row(measure, dtype, threads, t_fi, t_roof, t_cached, nbytes=800_000_000, cached_bytes=2_000_000):
    # three rounds whose medians are the given times (the other two rounds on either side)
    spread = lambda t: [t * 1.5, t, t * 0.5]
    return dict(measure=measure, dtype=dtype, threads=threads, shape=[1, 1], bytes=nbytes,
                fastinfo_s=spread(t_fi), roofline_s=spread(t_roof), cached_s=spread(t_cached),
                cached_bytes=cached_bytes, cached_reps=1)


def _save(tmp_path, name, rows):
    path = tmp_path / name
    path.write_text(json.dumps(dict(cpu=2, prefetch_plan=[0, 0], rows=rows)))
    return str(path)


def test_report_gives_each_cell_its_verdict(tmp_path, capsys):
    rows = [
        # 0.08 / 0.1: 80 % of the roofline -> "share"
        _row("entropy", "float64", 1, 0.1, 0.08, 0.00025),
        # 50 %, but DRAM 8 GB/s = in cache 2 MB / 0.25 ms -> compute-bound, "cache"
        _row("entropy", "float64", 2, 0.1, 0.05, 0.00025),
        # 50 %, DRAM 8 GB/s against 16 GB/s in cache (0.5x) -> "NO"
        _row("kl_divergence", "float32", 1, 0.1, 0.05, 0.000125),
        # float32, one array: 56 % meets the lower share target of 55 %
        _row("logsumexp", "float32", 1, 0.1, 0.056, 0.000125),
        # 69.96 % of the roofline, DRAM at 0.5x its in-cache speed: under the 70 % target, shown under it
        _row("softmax_cross_entropy", "float64", 1, 0.1, 0.06996, 0.000125),
        # 2-byte input has no verdict of its own: left out of the table
        _row("logsumexp", "bfloat16", 1, 0.1, 0.05, 0.000125),
    ]
    roofline.main(["--report", _save(tmp_path, "run.json", rows)])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| measure | dtype | threads | ms | share | DRAM / cache | verdict |"
    assert out[2] == "| entropy | float64 | 1 | 100.0 | 80.0% | 1.00x | share |"
    assert out[3] == "| entropy | float64 | 2 | 100.0 | 50.0% | 1.00x | cache |"
    assert out[4] == "| kl_divergence | float32 | 1 | 100.0 | 50.0% | 0.50x | **no** |"
    assert out[5] == "| logsumexp | float32 | 1 | 100.0 | 56.0% | 0.50x | share |"
    assert out[6] == "| softmax_cross_entropy | float64 | 1 | 100.0 | 69.9% | 0.50x | **no** |"
    assert not any("bfloat16" in line for line in out)
    assert out[-1] == "Cells meeting the target: 3 of 5"


def test_report_puts_two_runs_side_by_side(tmp_path, capsys):
    before = _save(tmp_path, "before.json", [_row("entropy", "float64", 1, 0.2, 0.08, 0.00025),
                                             _row("surprisal", "float32", 1, 0.1, 0.07, 0.00025)])
    after = _save(tmp_path, "after.json", [_row("entropy", "float64", 1, 0.1, 0.08, 0.00025)])
    roofline.main(["--report", before, after])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("| measure | dtype | threads | ms (1) | ms (2) | share (1) | share (2) | "
                      "DRAM / cache (1) | DRAM / cache (2) | verdict (1) | verdict (2) |")
    # 40 % and DRAM at half the in-cache speed before; 80 % after. Surprisal is in one run only.
    assert out[2] == "| entropy | float64 | 1 | 200.0 | 100.0 | 40.0% | 80.0% | 0.50x | 1.00x | **no** | share |"
    assert len(out) == 5
    assert out[-1] == "Cells meeting the target: 0 of 1 (1), 1 of 1 (2)"
