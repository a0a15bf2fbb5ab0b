"""The benchmark chart's third panel: which results stand for the other scales."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from chart import _across, across_scales  # noqa: E402


def _result(scale: int, commit: str, date: str, smoke: bool = False, **ratios: float) -> dict:
    return {"scale": scale, "data": {"rows": scale}, "date": date, "smoke": smoke,
            "code": {"commit": commit}, "ratios": ratios}  # fmt: skip


def test_other_scales_prefer_the_same_code_then_the_latest(tmp_path: Path) -> None:
    current = _result(20_000_000, "aaa", "2026-11-29", transform_vs_raw=4.9, run_vs_raw=10.5)
    files = {
        "current.json": current,
        "2m-same-code-older.json": _result(2_000_000, "aaa", "2026-11-01", transform_vs_raw=9.0),
        "2m-other-code-newer.json": _result(2_000_000, "bbb", "2026-11-28", transform_vs_raw=8.0),
        "10m-old.json": _result(10_000_000, "ccc", "2026-11-02", transform_vs_raw=5.0),
        "10m-new.json": _result(10_000_000, "ddd", "2026-11-03", transform_vs_raw=5.5),
        "2m-smoke.json": _result(2_000_000, "aaa", "2026-11-30", smoke=True, transform_vs_raw=1.0),
        "20m-other.json": _result(20_000_000, "eee", "2026-11-30", transform_vs_raw=1.0),
    }
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))
    (tmp_path / "broken.json").write_text("{")

    chosen = across_scales(current, tmp_path)

    assert [(r["scale"], r["code"]["commit"]) for r in chosen] == [
        (2_000_000, "aaa"), (10_000_000, "ddd"), (20_000_000, "aaa")
    ]  # fmt: skip
    # one bar per ratio and scale; a ratio an older result lacks is left out
    assert _across(chosen) == [
        ("transform, 2.0 M", 9.0), ("transform, 10.0 M", 5.5), ("transform, 20.0 M", 4.9),
        ("whole run, 20.0 M", 10.5),
    ]  # fmt: skip
