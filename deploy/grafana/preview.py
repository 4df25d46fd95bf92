"""Render previews of the Grafana dashboards from live Prometheus data, without Grafana.

For each dashboard in deploy/grafana/dashboards/ this evaluates every panel's
PromQL targets over the last few minutes through Prometheus's HTTP API
(/api/v1/query_range) and draws the dashboard's grid with matplotlib: time
series as lines, stat panels as big numbers, bar gauges as bars, pie charts as
pies and tables as text. Each image says plainly that it is a preview, not a
Grafana screenshot.

    .venv/bin/python deploy/grafana/preview.py --prometheus http://127.0.0.1:9090 \\
        --out docs/screenshots/

writes docs/screenshots/dashboard-<name>.png per dashboard and prints the
panels (and targets) that returned no data. Grafana's variables are replaced:
$__rate_interval by --rate-interval, $__interval by the query step, $__range
by the time range, template variables by their default (or `.*`).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator
from PIL import Image

HERE = Path(__file__).resolve().parent
DASHBOARDS_DIR = HERE / "dashboards"

# Grafana's dark theme, roughly.
BACKGROUND = "#111217"
PANEL = "#181b1f"
BORDER = "#2c3235"
TEXT = "#ccccdc"
MUTED = "#8e8e9e"
GRID = "#2a2d33"
PALETTE = [
    "#73bf69",
    "#f2cc0c",
    "#8ab8ff",
    "#ff780a",
    "#f2495c",
    "#5794f2",
    "#b877d9",
    "#705da0",
    "#37872d",
    "#fade2a",
    "#447ebc",
    "#c15c17",
    "#890f02",
    "#0a437c",
    "#6d1f62",
    "#584477",
]
NAMED_COLORS = {
    "green": "#73bf69",
    "red": "#f2495c",
    "orange": "#ff9830",
    "yellow": "#fade2a",
    "blue": "#5794f2",
    "purple": "#b877d9",
}

# The figure: 24 grid columns over WIDTH_PX, one grid unit of height in UNIT_PX.
WIDTH_PX = 1600
UNIT_PX = 30
HEADER_PX = 70
FOOTER_PX = 44
GAP_PX = 6
DPI = 100


@dataclass
class Series:
    """One result series of one target, on the common time grid."""

    name: str
    labels: dict[str, str]
    values: np.ndarray  # float, NaN where Prometheus had no sample

    def last(self) -> float:
        """The last non-null value (Grafana's lastNotNull), NaN when none."""
        finite = self.values[~np.isnan(self.values)]
        return float(finite[-1]) if finite.size else math.nan


@dataclass
class PanelData:
    """What a panel's targets returned."""

    times: np.ndarray  # Unix seconds of the grid
    series: list[list[Series]] = field(default_factory=list)  # per target
    errors: list[str] = field(default_factory=list)
    empty_targets: list[str] = field(default_factory=list)

    def flat(self) -> list[Series]:
        return [s for per_target in self.series for s in per_target]


# Queries ----------------------------------------------------------------------------------------


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Replace Grafana's $name, ${name}, ${name:format} and [[name]] by their values."""
    names = sorted(variables, key=len, reverse=True)
    if not names:
        return expr
    alternation = "|".join(re.escape(n) for n in names)
    pattern = re.compile(
        rf"\$\{{({alternation})(?::[^}}]*)?\}}|\[\[({alternation})\]\]|\$({alternation})(?![A-Za-z0-9_])"
    )
    return pattern.sub(lambda m: variables[m.group(1) or m.group(2) or m.group(3)], expr)


def template_defaults(dash: dict[str, Any]) -> dict[str, str]:
    """Each template variable's current (default) value, or `.*` when it has none or is All."""
    out: dict[str, str] = {}
    for var in dash.get("templating", {}).get("list", []):
        current = (var.get("current") or {}).get("value")
        if isinstance(current, list):
            current = "|".join(current) if current else None
        if current in (None, "", "$__all", "All"):
            current = var.get("allValue") or ".*"
        out[var["name"]] = str(current)
    return out


def legend(fmt: str, labels: dict[str, str], expr: str) -> str:
    """A series name as Grafana would build it from legendFormat."""
    if fmt:
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt).strip()
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    name = labels.get("__name__", "")
    if shown:
        return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items())) + "}"
    return name or expr


def query_range(base: str, expr: str, start: float, end: float, step: float) -> dict[str, Any]:
    """Prometheus's /api/v1/query_range answer for one expression."""
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    url = f"{base.rstrip('/')}/api/v1/query_range?{params}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # Prometheus answers 400/422 with a JSON error body
        try:
            return json.load(error)
        except ValueError:
            return {"status": "error", "error": f"HTTP {error.code}"}


def fetch_panel(
    base: str,
    panel: dict[str, Any],
    variables: dict[str, str],
    grid: np.ndarray,
    step: float,
) -> PanelData:
    """Evaluate every target of a panel over the grid."""
    data = PanelData(times=grid)
    start, end = float(grid[0]), float(grid[-1])
    for tgt in panel.get("targets", []):
        expr = substitute(tgt.get("expr", ""), variables)
        answer = query_range(base, expr, start, end, step)
        if answer.get("status") != "success":
            data.errors.append(f"{tgt.get('refId', '?')}: {answer.get('error', 'query failed')}")
            data.series.append([])
            continue
        found: list[Series] = []
        for result in answer["data"]["result"]:
            values = np.full(grid.shape, np.nan)
            for ts, value in result["values"]:
                index = round((float(ts) - start) / step)
                if 0 <= index < grid.size:
                    values[index] = float(value)
            values[~np.isfinite(values)] = np.nan  # NaN / ±Inf from histogram_quantile
            labels = result["metric"]
            found.append(Series(legend(tgt.get("legendFormat", ""), labels, expr), labels, values))
        if not any(np.isfinite(s.values).any() for s in found):
            data.empty_targets.append(f"{tgt.get('refId', '?')}: {tgt.get('expr', '')}")
        data.series.append(found)
    return data


# Formatting -------------------------------------------------------------------------------------


def short(value: float) -> str:
    """A number with at most three significant digits and a k/M/G suffix."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    for limit, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def formatted(value: float, unit: str) -> str:
    """A value in the panel's unit (the few units the dashboards use)."""
    if value is None or math.isnan(value):
        return "No data"
    if unit == "s":
        magnitude = abs(value)
        if magnitude == 0:
            return "0 s"
        if magnitude < 1e-3:
            return f"{value * 1e6:.3g} µs"
        if magnitude < 1:
            return f"{value * 1e3:.3g} ms"
        if magnitude < 60:
            return f"{value:.3g} s"
        if magnitude < 3600:
            return f"{value / 60:.3g} min"
        if magnitude < 86400:
            return f"{value / 3600:.3g} hour"
        return f"{value / 86400:.3g} day"
    if unit == "reqps":
        return f"{short(value)} req/s"
    return short(value)


def threshold_color(panel: dict[str, Any], value: float) -> str:
    """The colour of the threshold step the value falls in."""
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    color = "green"
    for step in steps:
        if step.get("value") is None or (not math.isnan(value) and value >= step["value"]):
            color = step.get("color", color)
    return NAMED_COLORS.get(color, color)


def thresholds(panel: dict[str, Any]) -> list[tuple[float, str]]:
    """The threshold steps that have a value, as (value, colour)."""
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    return [
        (float(s["value"]), NAMED_COLORS.get(s["color"], s["color"]))
        for s in steps
        if s.get("value") is not None
    ]


def unit_of(panel: dict[str, Any]) -> str:
    return panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")


# Drawing ----------------------------------------------------------------------------------------


class Canvas:
    """Pixel-addressed placement on a matplotlib figure (origin top left)."""

    def __init__(self, height_px: int) -> None:
        self.width = WIDTH_PX
        self.height = height_px
        self.fig: Figure = plt.figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI)
        self.fig.patch.set_facecolor(BACKGROUND)

    def rect(self, x: float, y: float, w: float, h: float) -> list[float]:
        """Figure coordinates of a pixel rectangle."""
        return [x / self.width, 1 - (y + h) / self.height, w / self.width, h / self.height]

    def axes(self, x: float, y: float, w: float, h: float) -> Axes:
        ax = self.fig.add_axes(self.rect(x, y, w, h))
        ax.set_facecolor(PANEL)
        return ax

    def text(self, x: float, y: float, s: str, **kwargs: Any) -> None:
        self.fig.text(x / self.width, 1 - y / self.height, s, **kwargs)

    def box(self, x: float, y: float, w: float, h: float, color: str, edge: str | None) -> None:
        fx, fy, fw, fh = self.rect(x, y, w, h)
        self.fig.add_artist(
            Rectangle(
                (fx, fy),
                fw,
                fh,
                transform=self.fig.transFigure,
                facecolor=color,
                edgecolor=edge or color,
                linewidth=1,
                zorder=0,
            )
        )


def bare(ax: Axes) -> None:
    """An axes with nothing but its background."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def no_data(ax: Axes, message: str = "No data", color: str = MUTED) -> None:
    bare(ax)
    ax.text(0.5, 0.5, message, ha="center", va="center", color=color, fontsize=13, wrap=True)


def draw_timeseries(
    canvas: Canvas, box: tuple[float, float, float, float], panel: dict[str, Any], data: PanelData
) -> None:
    x, y, w, h = box
    series = [s for s in data.flat() if np.isfinite(s.values).any()]
    if not series:
        ax = canvas.axes(x, y, w, h)
        no_data(ax, "No data" if not data.errors else "Query error:\n" + "\n".join(data.errors))
        return
    # Legend below the plot, as many columns as the names allow, at most ~40 % of the panel.
    longest = max(len(s.name) for s in series)
    columns = max(1, min(len(series), int((w - 10) // (longest * 5.2 + 34))))
    max_rows = max(1, int(h * 0.4 // 15))
    shown = series[: columns * max_rows]
    if len(shown) < len(series):
        shown = series[: columns * max_rows - 1]
    rows = math.ceil((len(shown) + (len(shown) < len(series))) / columns)
    legend_px = 15 * rows + 6
    ax = canvas.axes(x + 62, y + 4, w - 62 - 12, h - 4 - 22 - legend_px)
    times = [datetime.fromtimestamp(t, UTC) for t in data.times]
    custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
    stacked = custom.get("stacking", {}).get("mode") == "normal"
    fill = custom.get("fillOpacity", 10) / 100
    base = np.zeros(len(times))
    for index, s in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        values = s.values
        if stacked:
            top = base + np.nan_to_num(values)
            top[np.isnan(values)] = np.nan
            ax.plot(times, top, color=color, linewidth=1.2, label=s.name)
            ax.fill_between(times, base, top, color=color, alpha=fill, linewidth=0)
            base = np.where(np.isnan(values), base, top)
        else:
            ax.plot(times, values, color=color, linewidth=1.2, label=s.name)
            ax.fill_between(times, 0, values, color=color, alpha=fill, linewidth=0)
    low, high = ax.get_ylim()
    if np.nanmin([np.nanmin(s.values) for s in series]) >= 0:
        low = 0
    if high <= low:
        high = low + 1
    ax.set_ylim(low, high)
    if custom.get("thresholdsStyle", {}).get("mode") == "line":
        for value, color in thresholds(panel):
            if low <= value <= high:
                ax.axhline(value, color=color, linestyle="--", linewidth=1)
    unit = unit_of(panel)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: formatted(v, unit)))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=8))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    ax.set_xlim(times[0], times[-1])
    ax.tick_params(colors=MUTED, labelsize=8, length=0)
    ax.grid(color=GRID, linewidth=0.6)
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles, names = ax.get_legend_handles_labels()
    handles, names = handles[: len(shown)], names[: len(shown)]
    if len(shown) < len(series):
        handles.append(Rectangle((0, 0), 0, 0, alpha=0))
        names.append(f"+{len(series) - len(shown)} more")
    ax.legend(
        handles,
        names,
        loc="upper left",
        bbox_to_anchor=(0, -22 / (h - 4 - 22 - legend_px)),
        ncol=columns,
        frameon=False,
        fontsize=8,
        labelcolor=TEXT,
        handlelength=1.2,
        borderaxespad=0,
        columnspacing=1.5,
    )


def draw_stat(
    canvas: Canvas, box: tuple[float, float, float, float], panel: dict[str, Any], data: PanelData
) -> None:
    x, y, w, h = box
    series = data.flat()
    if not series or all(math.isnan(s.last()) for s in series):
        no_data(canvas.axes(x, y, w, h))
        return
    unit = unit_of(panel)
    gap = 4
    tile_w = (w - gap * (len(series) - 1)) / len(series)
    for index, s in enumerate(series):
        value = s.last()
        tx = x + index * (tile_w + gap)
        ax = canvas.axes(tx, y, tile_w, h)
        bare(ax)
        ax.set_facecolor(threshold_color(panel, value) if not math.isnan(value) else PANEL)
        big = min(34, h * 0.38, tile_w / max(3, len(formatted(value, unit))) * 1.4)
        if len(series) > 1:
            ax.text(0.5, 0.8, s.name, ha="center", va="center", color="white", fontsize=8.5)
            ax.text(0.5, 0.38, formatted(value, unit), ha="center", va="center", color="white")
            ax.texts[-1].set_fontsize(big)
            ax.texts[-1].set_fontweight("bold")
        else:
            ax.text(
                0.5,
                0.5,
                formatted(value, unit),
                ha="center",
                va="center",
                color="white",
                fontsize=big,
                fontweight="bold",
            )


def draw_bargauge(
    canvas: Canvas, box: tuple[float, float, float, float], panel: dict[str, Any], data: PanelData
) -> None:
    x, y, w, h = box
    series = [s for s in data.flat() if not math.isnan(s.last())]
    ax = canvas.axes(x, y, w, h)
    bare(ax)
    if not series:
        no_data(ax)
        return
    unit = unit_of(panel)
    values = [s.last() for s in series]
    top = max(max(values), 1e-9)
    count = len(series)
    ax.set_xlim(0, 1)
    ax.set_ylim(count, 0)
    bar_height = 0.62
    for row, (s, value) in enumerate(zip(series, values, strict=True)):
        ax.text(0.0, row + 0.5, s.name, ha="left", va="center", color=TEXT, fontsize=8)
        left, span = 0.3, 0.56
        ax.add_patch(
            Rectangle(
                (left, row + (1 - bar_height) / 2), span, bar_height, facecolor="#22252b", lw=0
            )
        )
        ax.add_patch(
            Rectangle(
                (left, row + (1 - bar_height) / 2),
                span * max(value, 0) / top,
                bar_height,
                facecolor=threshold_color(panel, value),
                lw=0,
            )
        )
        ax.text(
            1.0,
            row + 0.5,
            formatted(value, unit),
            ha="right",
            va="center",
            color=threshold_color(panel, value),
            fontsize=9,
            fontweight="bold",
        )


def draw_piechart(
    canvas: Canvas, box: tuple[float, float, float, float], panel: dict[str, Any], data: PanelData
) -> None:
    x, y, w, h = box
    series = [s for s in data.flat() if not math.isnan(s.last()) and s.last() > 0]
    ax = canvas.axes(x, y, h, h)
    if not series:
        no_data(canvas.axes(x, y, w, h))
        return
    values = [s.last() for s in series]
    total = sum(values)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    wedges, _ = ax.pie(
        values, colors=colors, startangle=90, counterclock=False, wedgeprops={"linewidth": 0}
    )
    ax.set_aspect("equal")
    legend_ax = canvas.axes(x + h + 10, y, w - h - 10, h)
    bare(legend_ax)
    legend_ax.legend(
        wedges,
        [
            f"{s.name}  {short(v)}  ({100 * v / total:.1f} %)"
            for s, v in zip(series, values, strict=True)
        ],
        loc="center left",
        frameon=False,
        fontsize=8.5,
        labelcolor=TEXT,
        ncol=1 if len(series) <= 12 else 2,
    )


def draw_table(
    canvas: Canvas, box: tuple[float, float, float, float], panel: dict[str, Any], data: PanelData
) -> None:
    x, y, w, h = box
    ax = canvas.axes(x, y, w, h)
    bare(ax)
    blocks = [per_target for per_target in data.series if per_target]
    if not blocks:
        no_data(ax)
        return
    unit = unit_of(panel)
    lines: list[tuple[list[str], bool]] = []  # cells, is header
    for per_target in blocks:
        columns = sorted({k for s in per_target for k in s.labels if k != "__name__"})
        lines.append(([*columns, "Value"], True))
        for s in per_target:
            lines.append(
                ([*(s.labels.get(c, "") for c in columns), formatted(s.last(), unit)], False)
            )
    row_px = 19
    visible = max(1, int(h // row_px))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    for row, (cells, header) in enumerate(lines[:visible]):
        top = row * row_px
        if header:
            ax.add_patch(Rectangle((0, top), w, row_px, facecolor="#22252b", lw=0))
        width = w / len(cells)
        for col, cell in enumerate(cells):
            ax.text(
                col * width + 6,
                top + row_px / 2,
                cell,
                ha="left",
                va="center",
                color=TEXT if not header else "#6e9fff",
                fontsize=8.5,
                fontweight="bold" if header else "normal",
            )
    if len(lines) > visible:
        ax.text(w - 6, h - 4, f"… {len(lines) - visible} more rows", ha="right", color=MUTED)


DRAW = {
    "timeseries": draw_timeseries,
    "stat": draw_stat,
    "gauge": draw_stat,
    "bargauge": draw_bargauge,
    "piechart": draw_piechart,
    "table": draw_table,
}


def panels_of(dash: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    out: list[dict[str, Any]] = []
    for panel in dash.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []) if panel.get("type") == "row" else [])
    return out


def render(
    path: Path, base: str, grid: np.ndarray, step: float, rate_interval: str
) -> tuple[bytes, list[str]]:
    """The dashboard as PNG bytes, and a description of each panel that had no data."""
    dash = json.loads(path.read_text())
    span = grid[-1] - grid[0]
    variables = {
        "__rate_interval": rate_interval,
        "__interval": f"{int(step)}s",
        "__interval_ms": str(int(step * 1000)),
        "__range": f"{int(span)}s",
        "__range_s": str(int(span)),
        "__range_ms": str(int(span * 1000)),
        **template_defaults(dash),
    }
    panels = panels_of(dash)
    bottom = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels), default=0)
    column = WIDTH_PX / 24
    height = HEADER_PX + bottom * UNIT_PX + FOOTER_PX
    canvas = Canvas(int(height))
    start = datetime.fromtimestamp(grid[0], UTC)
    end = datetime.fromtimestamp(grid[-1], UTC)
    canvas.text(16, 30, dash.get("title", path.stem), color="white", fontsize=18, va="bottom")
    canvas.text(
        16,
        52,
        f"PREVIEW  ·  {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC ({span / 60:.0f} min, step {step:g} s, "
        f"$__rate_interval = {rate_interval})  ·  not a Grafana screenshot",
        color="#ff9830",
        fontsize=10,
        va="bottom",
    )
    problems: list[str] = []
    for panel in panels:
        pos = panel["gridPos"]
        x = pos["x"] * column + GAP_PX / 2
        y = HEADER_PX + pos["y"] * UNIT_PX + GAP_PX / 2
        w = pos["w"] * column - GAP_PX
        h = pos["h"] * UNIT_PX - GAP_PX
        title = panel.get("title", "")
        if panel.get("type") == "row":
            canvas.text(x + 4, y + h - 2, title, color="white", fontsize=12, fontweight="bold")
            continue
        canvas.box(x, y, w, h, PANEL, BORDER)
        canvas.text(x + 8, y + 19, title, color=TEXT, fontsize=10, fontweight="bold")
        data = fetch_panel(base, panel, variables, grid, step)
        inner = (x + 6, y + 26, w - 12, h - 32)
        draw = DRAW.get(panel.get("type", ""))
        if draw is None:
            no_data(canvas.axes(*inner), f"(panel type {panel.get('type')} not previewed)")
        else:
            draw(canvas, inner, panel, data)
        if data.errors or data.empty_targets:
            whole = len(data.empty_targets) == len(panel.get("targets", []))
            detail = "; ".join(data.errors + data.empty_targets)
            problems.append(
                f"{path.name}: {title!r}: {'no data' if whole else 'some targets empty'} ({detail})"
            )
    canvas.text(
        WIDTH_PX / 2,
        height - 14,
        f"Preview rendered from deploy/grafana/dashboards/{path.name} with live Prometheus data "
        "by deploy/grafana/preview.py — not a Grafana screenshot",
        color="#ff9830",
        fontsize=11,
        ha="center",
    )
    buffer = io.BytesIO()
    canvas.fig.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND)
    plt.close(canvas.fig)
    # A 256-colour palette keeps the files small (the images are flat colours and lines).
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").quantize(colors=256)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue(), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL")
    parser.add_argument("--out", type=Path, required=True, help="directory for the PNGs")
    parser.add_argument("--dashboards", type=Path, default=DASHBOARDS_DIR)
    parser.add_argument("--minutes", type=float, default=10, help="time range (default 10)")
    parser.add_argument("--end", type=float, default=None, help="end, Unix seconds (default now)")
    parser.add_argument("--step", type=float, default=5, help="query step in seconds (default 5)")
    parser.add_argument("--rate-interval", default="1m", help="$__rate_interval (default 1m)")
    args = parser.parse_args(argv)

    end = math.floor(args.end if args.end is not None else time.time())
    end -= end % int(args.step)
    points = int(args.minutes * 60 // args.step) + 1
    grid = end - args.step * np.arange(points)[::-1]
    args.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for path in sorted(args.dashboards.glob("*.json")):
        png, found = render(path, args.prometheus, grid, args.step, args.rate_interval)
        target = args.out / f"dashboard-{path.stem}.png"
        target.write_bytes(png)
        print(f"{target}  {len(png) // 1024} KB")
        problems += found
    if problems:
        print("\nPanels or targets without data:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
