"""bench/bench_api.py runs end to end on a small book: a real server, concurrent clients, no errors."""

from __future__ import annotations

from bench import bench_api


def test_the_api_benchmark_runs_and_writes_its_figures(tmp_path):
    out = tmp_path / "RESULTS_api.md"
    out.write_text("# Query API benchmark (bench/bench_api.py)\n\nA note kept above the runs.\n\n## older run\n\nx\n")
    code = bench_api.main(["--loans", "300", "--clients", "3", "--rounds", "2", "--workdir", str(tmp_path / "w"),
                           "--out", str(out)])
    text = out.read_text()
    assert code == 0, text
    assert text.index("A note kept") < text.index("3 clients on 300 loans") < text.index("## older run")
    for name in bench_api.QUERIES:
        assert f"| {name}: API, 3 clients |" in text and f"| {name}: in-process, 3 threads |" in text
    assert "Errors: 0 (in-process 0, API 0)" in text and "SIGTERM: port closed after" in text
    assert not list((tmp_path / "w").glob("*.duckdb*"))  # the demo book is removed afterwards
