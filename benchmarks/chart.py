"""One result's chart (matplotlib, Agg): the time of every contender, the pipeline's split by
stage, and the ratios on wall and CPU time, the headline (whole run / contract floor) first.

    python benchmarks/chart.py benchmarks/results/<scale>.json ...   # re-draw <scale>.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import CONTENDERS, RATIOS, STAGES, measure, ratios  # noqa: E402

STAGE_COLOURS = ["#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974"]
REFERENCE_COLOUR, HEADLINE_COLOUR, RATIO_COLOUR = "#8c8c8c", "#dd8452", "#4c72b0"


def _times(ax, r: dict) -> None:  # noqa: ANN001 (a matplotlib Axes)
    """Horizontal bars of wall time, top to bottom in CONTENDERS' order; the whole run stacked
    by stage."""
    names = list(CONTENDERS)
    y = {name: len(names) - 1 - i for i, name in enumerate(names)}
    left = 0.0
    for stage, colour in zip(STAGES, STAGE_COLOURS, strict=True):
        wall = r["stages"][stage]["wall_s"]
        ax.barh(y["whole_run"], wall, left=left, color=colour, label=stage)
        left += wall
    for name in names[1:]:
        ax.barh(y[name], measure(r, name)["wall_s"], color=REFERENCE_COLOUR)
    for name in names:
        m = measure(r, name)
        ax.annotate(f" {m['wall_s']:.1f} s  (CPU {m['cpu_s']:.1f} s, {m['peak_rss_mb']:.0f} MB)",
                    (m["wall_s"], y[name]), va="center", fontsize=8)  # fmt: skip
    ax.set_yticks(list(y.values()), [CONTENDERS[n].replace("`", "") for n in names])
    ax.set_xlabel("wall time (s)")
    ax.set_title("time per process (whole run: sum of the stages)")
    ax.margins(x=0.45)
    ax.legend(loc="lower right", fontsize=8, title="stages", title_fontsize=8)


def _ratios(ax, r: dict) -> None:  # noqa: ANN001
    """Each ratio as two bars, wall time and CPU time (hatched), on a log scale; a line at 1."""
    q = ratios(r)
    n = len(RATIOS)
    for i, (key, _, _, _) in enumerate(RATIOS):
        y = n - 1 - i
        colour = HEADLINE_COLOUR if i == 0 else RATIO_COLOUR
        ax.barh(y + 0.2, q[key], height=0.4, color=colour)
        ax.barh(y - 0.2, q["cpu_" + key], height=0.4, color=colour, alpha=0.45, hatch="//")
        ax.annotate(f" {q[key]:.2f}", (q[key], y + 0.2), va="center", fontsize=8)
        ax.annotate(f" {q['cpu_' + key]:.2f} CPU", (q["cpu_" + key], y - 0.2), va="center",
                    fontsize=8)  # fmt: skip
    ax.set_yticks(range(n - 1, -1, -1), [label for _, label, _, _ in RATIOS])
    ax.get_yticklabels()[0].set_fontweight("bold")
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("ratio, log scale (solid: wall time; hatched: CPU time)")
    ax.set_title("ratios (headline: whole run / contract floor)")
    ax.margins(x=0.25)


def render(r: dict, path: Path) -> Path:
    """Draw `r`'s chart into `path` (PNG)."""
    d, code, q = r["data"], r["code"], ratios(r)
    fig = Figure(figsize=(14, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    times, rates = fig.subplots(1, 2, width_ratios=[1.25, 1])
    _times(times, r)
    _ratios(rates, r)
    commit = (code.get("commit") or code.get("id") or "?")[:7]
    fig.suptitle(
        f"exams nightly pipeline against references: {d['rows']:,} rows, {d['files']} files, "
        f"{len(d['sessions'])} sessions — code {commit}{' (dirty)' if code.get('dirty') else ''}"
        f", {r['date']}\n{r['machine']['cores']} cores, load average "
        f"{r['load_average']['before']} / {r['load_average']['after']}; peak memory "
        f"{q['peak_rss_gb']:.2f} GB; marts identical: {'yes' if r['agreement']['ok'] else 'NO'}",
        fontsize=10,
    )
    fig.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        src = Path(arg)
        print(render(json.loads(src.read_text()), src.with_suffix(".png")))
