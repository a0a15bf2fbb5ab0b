"""The benchmark chart: wall time per process, the ratios against their targets, and the ratios
to raw DuckDB across scales (this run and the latest result of every other scale beside it).

    python benchmarks/chart.py benchmarks/results/<date>-<scale>.json   # re-render

Uses matplotlib when the environment has it; the transform environment does not lock it, so
the fallback draws the same chart with the standard library only: an SVG, and a PNG rasterised
here (zlib + a 5×7 bitmap font, text in capitals).
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

STAGES = ["ingest", "transform", "check", "publish", "extracts"]
BLUE, NAVY, GREY, GREEN, ORANGE, RED = (
    (76, 114, 176),
    (31, 56, 100),
    (150, 150, 150),
    (85, 168, 104),
    (221, 132, 82),
    (196, 78, 82),
)
INK, LIGHT, WHITE = (40, 40, 40), (225, 225, 225), (255, 255, 255)


def _bars(r: dict) -> list[tuple[str, float, tuple]]:
    bars = [(s, r["stages"][s]["wall_s"], BLUE) for s in STAGES]
    bars += [
        ("whole run", r["whole_run"]["wall_s"], NAVY),
        ("no-change run", r["rerun"]["wall_s"], GREY),
        ("raw DuckDB", r["raw_duckdb"]["wall_s"], GREEN),
        ("pandas", r["pandas"]["wall_s"], ORANGE),
    ]
    if "contract_floor" in r:  # results written since the floor was added
        bars.append(("contract floor", r["contract_floor"]["wall_s"], GREEN))
    return bars


def _ratios(r: dict) -> list[tuple[str, float, str, float]]:
    q, t = r["ratios"], r["targets"]
    out = []
    for key, label in (("transform_vs_raw", "transform / raw DuckDB"),
                       ("run_vs_raw", "whole run / raw DuckDB"),
                       ("pandas_vs_run", "pandas / whole run"),
                       ("peak_rss_gb", "peak memory GB")):  # fmt: skip
        op, target = t[key].split()
        out.append((label, float(q[key]), op, float(target)))
    return out


# ratios to raw DuckDB drawn across scales: (key in "ratios", label)
ACROSS = (
    ("transform_vs_raw", "transform"),
    ("run_vs_raw", "whole run"),
    ("floor_vs_raw", "contract floor"),
    ("pandas_vs_raw", "pandas"),
)


def across_scales(r: dict, folder: Path) -> list[dict]:
    """`r` and, for every other scale with results in `folder` (smoke runs with smoke runs),
    one result: of the same code if there is one, else the latest (by date, then file name);
    sorted by scale."""
    best: dict[int, tuple] = {}
    same_code = (r.get("code") or {}).get("commit")
    for path in sorted(folder.glob("*.json")):
        try:
            other = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if "ratios" not in other or bool(other.get("smoke")) != bool(r.get("smoke")):
            continue
        if other["scale"] == r["scale"]:
            continue
        rank = ((other.get("code") or {}).get("commit") == same_code, other["date"], path.name)
        if other["scale"] not in best or rank > best[other["scale"]][0]:
            best[other["scale"]] = (rank, other)
    return sorted([r, *(other for _, other in best.values())], key=lambda x: x["scale"])


def _across(results: list[dict]) -> list[tuple[str, float]]:
    return [
        (f"{label}, {x['data']['rows'] / 1e6:.1f} M", float(x["ratios"][key]))
        for key, label in ACROSS
        for x in results
        if key in x["ratios"]
    ]


def _title(r: dict) -> str:
    d = r["data"]
    return (f"exams pipeline benchmark: {d['rows']:,} rows, {d['files']} files, "
            f"{len(d['sessions'])} sessions ({r['date']})")  # fmt: skip


# ---- one layout, two backends ---------------------------------------------------------------

W = 1040


def layout(r: dict, across: list[dict] | None = None) -> tuple[int, list[tuple]]:
    """Primitives: ("rect", x, y, w, h, rgb) and ("text", x, y, str, rgb, anchor)."""
    ops: list[tuple] = []
    ops.append(("text", 20, 16, _title(r), INK, "start"))
    # panel 1: wall time per process
    y = 56
    ops.append(("text", 20, y, "wall time per process (s)", INK, "start"))
    bars = _bars(r)
    top = max(v for _, v, _ in bars) or 1.0
    x0, width, h = 290, W - 290 - 200, 22
    y += 24
    for label, value, colour in bars:
        ops.append(("text", x0 - 10, y + 4, label, INK, "end"))
        ops.append(("rect", x0, y, max(1, int(width * value / top)), h - 6, colour))
        ops.append(("text", x0 + int(width * value / top) + 8, y + 4, f"{value:.1f}", INK,
                    "start"))  # fmt: skip
        y += h
    # panel 2: ratios against their targets (target tick in black)
    y += 24
    ops.append(("text", 20, y, "ratios (bar) against the 20 M targets (tick)", INK, "start"))
    y += 24
    ratios = _ratios(r)
    for label, value, op, target in ratios:
        top = max(value, target) * 1.15 or 1.0
        ok = value <= target if op == "<=" else value >= target
        ops.append(("text", x0 - 10, y + 4, label, INK, "end"))
        ops.append(("rect", x0, y, width, h - 6, LIGHT))
        ops.append(("rect", x0, y, max(1, int(width * value / top)), h - 6, GREEN if ok else RED))
        tx = x0 + int(width * target / top)
        ops.append(("rect", tx - 1, y - 3, 3, h, INK))
        ops.append(("text", x0 + width + 8, y + 4, f"{value:.2f} {op} {target:g}", INK, "start"))
        y += h
    # panel 3: ratios to raw DuckDB across scales (one bar per ratio and scale)
    bars3 = _across(across or [r])
    y += 24
    ops.append(("text", 20, y, "ratios to raw DuckDB across scales (wall time)", INK, "start"))
    y += 24
    top = max((v for _, v in bars3), default=1.0) or 1.0
    for label, value in bars3:
        ops.append(("text", x0 - 10, y + 4, label, INK, "end"))
        ops.append(("rect", x0, y, max(1, int(width * value / top)), h - 6, NAVY))
        ops.append(("text", x0 + int(width * value / top) + 8, y + 4, f"{value:.2f}", INK,
                    "start"))  # fmt: skip
        y += h
    return y + 16, ops


def write_svg(path: Path, r: dict, across: list[dict] | None = None) -> None:
    height, ops = layout(r, across)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
           'font-family="DejaVu Sans Mono, monospace" font-size="12">',
           f'<rect width="{W}" height="{height}" fill="white"/>']  # fmt: skip
    for op in ops:
        if op[0] == "rect":
            _, x, y, w, h, c = op
            out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="rgb{c}"/>')
        else:
            _, x, y, s, c, anchor = op
            s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            out.append(f'<text x="{x}" y="{y + 8}" fill="rgb{c}" text-anchor="{anchor}">{s}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


# 5×7 capitals, digits and the punctuation the chart uses; rows top to bottom, 5 bits each.
_FONT_SRC = """
A 01110 10001 10001 11111 10001 10001 10001|B 11110 10001 10001 11110 10001 10001 11110
C 01110 10001 10000 10000 10000 10001 01110|D 11110 10001 10001 10001 10001 10001 11110
E 11111 10000 10000 11110 10000 10000 11111|F 11111 10000 10000 11110 10000 10000 10000
G 01110 10001 10000 10111 10001 10001 01111|H 10001 10001 10001 11111 10001 10001 10001
I 01110 00100 00100 00100 00100 00100 01110|J 00111 00010 00010 00010 00010 10010 01100
K 10001 10010 10100 11000 10100 10010 10001|L 10000 10000 10000 10000 10000 10000 11111
M 10001 11011 10101 10101 10001 10001 10001|N 10001 11001 10101 10011 10001 10001 10001
O 01110 10001 10001 10001 10001 10001 01110|P 11110 10001 10001 11110 10000 10000 10000
Q 01110 10001 10001 10001 10101 10010 01101|R 11110 10001 10001 11110 10100 10010 10001
S 01111 10000 10000 01110 00001 00001 11110|T 11111 00100 00100 00100 00100 00100 00100
U 10001 10001 10001 10001 10001 10001 01110|V 10001 10001 10001 10001 10001 01010 00100
W 10001 10001 10001 10101 10101 10101 01010|X 10001 10001 01010 00100 01010 10001 10001
Y 10001 10001 01010 00100 00100 00100 00100|Z 11111 00001 00010 00100 01000 10000 11111
0 01110 10001 10011 10101 11001 10001 01110|1 00100 01100 00100 00100 00100 00100 01110
2 01110 10001 00001 00010 00100 01000 11111|3 11111 00010 00100 00010 00001 10001 01110
4 00010 00110 01010 10010 11111 00010 00010|5 11111 10000 11110 00001 00001 10001 01110
6 00110 01000 10000 11110 10001 10001 01110|7 11111 00001 00010 00100 01000 01000 01000
8 01110 10001 10001 01110 10001 10001 01110|9 01110 10001 10001 01111 00001 00010 01100
. 00000 00000 00000 00000 00000 01100 01100|, 00000 00000 00000 00000 01100 00100 01000
: 00000 01100 01100 00000 01100 01100 00000|- 00000 00000 00000 11111 00000 00000 00000
/ 00001 00010 00010 00100 01000 01000 10000|( 00010 00100 01000 01000 01000 00100 00010
) 01000 00100 00010 00010 00010 00100 01000|= 00000 00000 11111 00000 11111 00000 00000
< 00010 00100 01000 10000 01000 00100 00010|> 01000 00100 00010 00001 00010 00100 01000
% 11000 11001 00010 00100 01000 10011 00011|_ 00000 00000 00000 00000 00000 00000 11111
"""
FONT = {
    g[0]: [int(row, 2) for row in g[2:].split()]
    for g in _FONT_SRC.replace("\n", "|").split("|")
    if g.strip()
}
SCALE = 2  # each font pixel is 2×2: 12 px a character, 14 px a line


class Canvas:
    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.px = bytearray(WHITE * (w * h))

    def rect(self, x: int, y: int, w: int, h: int, c: tuple) -> None:
        x0, x1 = max(0, x), min(self.w, x + w)
        if x1 <= x0:
            return
        row = bytes(c) * (x1 - x0)
        for yy in range(max(0, y), min(self.h, y + h)):
            i = (yy * self.w + x0) * 3
            self.px[i : i + len(row)] = row

    def text(self, x: int, y: int, s: str, c: tuple, anchor: str) -> None:
        s = s.upper().replace("×", "X").replace("≤", "<=").replace("≥", ">=")
        adv = 6 * SCALE
        if anchor == "end":
            x -= len(s) * adv
        elif anchor == "middle":
            x -= len(s) * adv // 2
        for ch in s:
            for r, bits in enumerate(FONT.get(ch, [0] * 7)):
                for col in range(5):
                    if bits & (1 << (4 - col)):
                        self.rect(x + col * SCALE, y + r * SCALE, SCALE, SCALE, c)
            x += adv

    def png(self) -> bytes:
        stride = self.w * 3
        raw = b"".join(
            b"\x00" + bytes(self.px[y * stride : (y + 1) * stride]) for y in range(self.h)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))  # fmt: skip


def write_png_stdlib(path: Path, r: dict, across: list[dict] | None = None) -> None:
    height, ops = layout(r, across)
    canvas = Canvas(W, height)
    for op in ops:
        if op[0] == "rect":
            canvas.rect(*op[1:])
        else:
            canvas.text(*op[1:])
    path.write_bytes(canvas.png())


def write_png_matplotlib(path: Path, r: dict, across: list[dict] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = _bars(r)
    ratios = _ratios(r)
    bars3 = _across(across or [r])
    fig, (a, b, c) = plt.subplots(3, 1, figsize=(10, 10),
                                  height_ratios=[len(bars), len(ratios), len(bars3)])  # fmt: skip
    names = [n for n, _, _ in bars][::-1]
    a.barh(names, [v for _, v, _ in bars][::-1],
           color=[tuple(x / 255 for x in c) for _, _, c in bars][::-1])  # fmt: skip
    for i, (_, v, _) in enumerate(bars[::-1]):
        a.text(v, i, f" {v:.1f}", va="center")
    a.set_xlabel("wall time (s)")
    a.set_title(_title(r))
    for i, (label, value, op, target) in enumerate(ratios[::-1]):
        ok = value <= target if op == "<=" else value >= target
        b.barh(label, value, color="tab:green" if ok else "tab:red")
        b.plot([target, target], [i - 0.4, i + 0.4], color="black", lw=2)
        b.text(value, i, f" {value:.2f} ({op} {target:g})", va="center")
    b.set_xlabel("ratio (bar) and 20 M target (black tick)")
    c.barh([n for n, _ in bars3][::-1], [v for _, v in bars3][::-1], color="tab:blue")
    for i, (_, v) in enumerate(bars3[::-1]):
        c.text(v, i, f" {v:.2f}", va="center")
    c.set_xlabel("ratio to raw DuckDB, across scales (wall time)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(r: dict, stem: Path) -> list[Path]:
    """Write <stem>.png (and <stem>.svg without matplotlib); returns the paths. The results of
    other scales are read from <stem>'s folder."""
    png = stem.with_suffix(".png")
    across = across_scales(r, stem.parent)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        svg = stem.with_suffix(".svg")
        write_svg(svg, r, across)
        write_png_stdlib(png, r, across)
        return [png, svg]
    write_png_matplotlib(png, r, across)
    return [png]


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        src = Path(arg)
        print(*render(json.loads(src.read_text()), src.with_suffix("")))
