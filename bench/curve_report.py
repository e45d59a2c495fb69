"""Tables and plots for bench_curves.py: pure formatting and drawing, no measuring.

A curve is measured once by one of the curve_*.py modules; this module only turns the figures
into a text table (printed) and a PNG (matplotlib's Agg backend: no display needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"  # build output, ignored by git


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[tuple[float, float], ...]  # (x, y)
    axis: str = "left"  # "left" or "right": a second quantity drawn against its own scale


@dataclass(frozen=True)
class Plot:
    title: str
    xlabel: str
    ylabel: str
    series: tuple[Series, ...]
    ylabel_right: str = ""
    logx: bool = True
    logy: bool = False
    target: float | None = None  # a horizontal line
    target_axis: str = "left"
    notes: tuple[str, ...] = field(default_factory=tuple)


def table(title: str, headers: list[str], rows: list[list[str]], notes: list[str] = ()) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [title, line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
    out += [f"  {n}" for n in notes]
    return "\n".join(out)


def draw(plot: Plot, path: Path) -> Path:
    """Write ``plot`` as a PNG at ``path`` (its folder is created) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, left = plt.subplots(figsize=(7, 4.5), dpi=110)
    right = left.twinx() if any(s.axis == "right" for s in plot.series) else None
    for n, s in enumerate(plot.series):  # one colour per series across both axes
        ax = right if s.axis == "right" and right is not None else left
        xs, ys = zip(*s.points) if s.points else ((), ())
        ax.plot(xs, ys, color=f"C{n}", marker="osD^v<>"[n % 7], linestyle="--" if ax is right else "-", label=s.label)
        for x, y in s.points:
            ax.annotate(f"{y:,.0f}" if abs(y) >= 1000 else f"{y:.3g}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    if plot.target is not None:
        ax = right if plot.target_axis == "right" and right is not None else left
        ax.axhline(plot.target, color="grey", linestyle=":", label=f"target {plot.target:g}")
    if plot.logx:
        left.set_xscale("log")
    if plot.logy:
        left.set_yscale("log")
    else:
        left.set_ylim(bottom=0)
    if right is not None:
        right.set_ylim(bottom=0)
    if plot.target is not None:  # keep the target line off the frame's edge
        ax = right if plot.target_axis == "right" and right is not None else left
        ax.set_ylim(top=max(ax.get_ylim()[1], plot.target * 1.15))
    xs = sorted({x for s in plot.series for x, _ in s.points})
    if xs:
        left.set_xticks(xs)
        left.set_xticklabels([_short(x) for x in xs])
        left.minorticks_off()
    left.set_xlabel(plot.xlabel)
    left.set_ylabel(plot.ylabel)
    if right is not None:
        right.set_ylabel(plot.ylabel_right)
    left.set_title(plot.title, fontsize=10)
    handles, labels = left.get_legend_handles_labels()
    if right is not None:
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    left.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    left.grid(True, alpha=0.3)
    if plot.notes:
        left.text(0, -0.32, "\n".join(plot.notes), transform=left.transAxes, fontsize=7, va="top")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _short(x: float) -> str:
    """10000 -> 10k, 1000000 -> 1M (axis labels)."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if x >= size and x % (size // 10 or 1) == 0:
            return f"{x / size:g}{unit}"
    return f"{x:g}"
