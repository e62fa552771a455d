"""A line's health as an inline SVG chart: rolling yield against its threshold, and the
label-free signals beside it (mean confidence, low-confidence share, mix shift)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from schemas import YieldReported

W, H, PAD = 760, 230, 34
SERIES: tuple[tuple[str, str, Callable[[YieldReported], float | None]], ...] = (
    ("yield", "#1f77b4", lambda r: r.yield_rate),
    ("threshold", "#d62728", lambda r: r.threshold),
    ("mean-confidence", "#2ca02c", lambda r: r.mean_confidence),
    ("low-confidence", "#ff7f0e", lambda r: r.low_confidence_share),
    ("mix-shift", "#9467bd", lambda r: r.mix_shift),
)


def chart(line_id: str, reports: Sequence[YieldReported]) -> str:
    if not reports:
        return ""
    reports = sorted(reports, key=lambda r: r.occurred_at)  # a republished report comes late
    t0 = reports[0].occurred_at
    span = max((reports[-1].occurred_at - t0).total_seconds(), 1.0)

    def x(r: YieldReported) -> float:
        return PAD + (W - 2 * PAD) * (r.occurred_at - t0).total_seconds() / span

    def y(value: float) -> float:
        return H - PAD - (H - 2 * PAD) * value

    parts = [
        f'<svg class="yield-plot" data-line="{escape(line_id)}" viewBox="0 0 {W} {H}" '
        f'width="{W}" height="{H}" role="img" aria-label="rolling yield of {escape(line_id)}">',
        *(
            f'<line x1="{PAD}" x2="{W - PAD}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
            f'<text x="4" y="{y(v) + 4:.1f}" class="tick">{v:.1f}</text>'
            for v in (0.0, 0.5, 1.0)
        ),
    ]
    for name, colour, value in SERIES:
        points = " ".join(f"{x(r):.1f},{y(v):.1f}" for r in reports if (v := value(r)) is not None)
        dash = ' stroke-dasharray="6 4"' if name == "threshold" else ""
        width = 2.2 if name == "yield" else 1.3
        parts.append(
            f'<polyline class="{name}" fill="none" stroke="{colour}" '
            f'stroke-width="{width}"{dash} points="{points}"/>'
        )
    parts.append(
        f'<text x="{PAD}" y="{H - 8}" class="tick">{escape(t0.strftime("%H:%M:%S"))} UTC, '
        f"{span:.0f} s shown</text></svg>"
    )
    return "".join(parts)
