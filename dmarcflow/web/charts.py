"""Charts as SVG built on the server: no script is needed to see them, in a page or in a mailed file.

Every text in a chart is escaped here (the labels are dates and numbers, but tooltips may carry
names); every number is formatted here. Colours are presentation attributes, not ``style``, so a
strict Content-Security-Policy (no inline styles) keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

from dmarcflow.models import SOURCE_CLASSES
from dmarcflow.store.series import DayFigures
from dmarcflow.store.tls import TlsDayRow

CLASS_COLOURS = {"authorised": "#2e7d32", "forwarded": "#1565c0", "misconfigured": "#ef8f00",
                 "unauthorised": "#c62828"}
PASS_COLOUR = "#111111"  # noqa: S105 - the colour of "DMARC pass", not a password
MAX_BARS = 120
_EPOCH = date(1970, 1, 1)


def day_text(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).isoformat()


def _n(value: float) -> str:
    return f"{value:,.0f}"


@dataclass(frozen=True)
class Bucket:
    """One bar: a run of ``days`` UTC days starting at ``first``, summed."""

    first: int
    days: int
    messages: int
    dmarc_pass: int
    classes: tuple[int, ...]

    @property
    def label(self) -> str:
        if self.days == 1:
            return day_text(self.first)
        return f"{day_text(self.first)} to {day_text(self.first + self.days - 1)}"


def buckets(days: Sequence[DayFigures], first_day: int, last_day: int) -> list[Bucket]:
    """Every day of [first_day, last_day] (missing ones as zero), grouped into at most MAX_BARS bars."""
    if last_day < first_day:
        return []
    size = max(1, math.ceil((last_day - first_day + 1) / MAX_BARS))
    sums: dict[int, list[int]] = {}
    for d in days:
        if first_day <= d.day <= last_day:
            slot = sums.setdefault((d.day - first_day) // size, [0, 0] + [0] * len(SOURCE_CLASSES))
            slot[0] += d.messages
            slot[1] += d.dmarc_pass
            for i, n in enumerate(d.classes):
                slot[2 + i] += n
    count = (last_day - first_day) // size + 1
    out = []
    for i in range(count):
        s = sums.get(i, [0, 0] + [0] * len(SOURCE_CLASSES))
        start = first_day + i * size
        out.append(Bucket(start, min(size, last_day - start + 1), s[0], s[1], tuple(s[2:])))
    return out


def _nice_max(value: int) -> int:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return value


def trend_chart(days: Sequence[DayFigures], first_day: int, last_day: int, *, label: str,
                width: int = 760, height: int = 240) -> Markup:
    """Messages per day stacked by class (bars, left axis) and the DMARC pass rate (line, right axis)."""
    bars = buckets(days, first_day, last_day)
    left, right, top, bottom = 64, 48, 12, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((b.messages for b in bars), default=0))
    step = plot_w / max(1, len(bars))
    parts = _svg_open("chart", width, height, label)
    parts += _axes(left, top, plot_w, plot_h, peak, bars)
    for i, b in enumerate(bars):
        parts += _stack(b, left + i * step, step, top, plot_h, peak)
    parts.append(_pass_line(bars, left, step, top, plot_h))
    parts += _legend(left, height - 18)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in it was escaped or is a number


def _svg_open(css_class: str, width: int, height: int, label: str) -> list[str]:
    """A chart's opening tag and its title (what a screen reader and a hover say)."""
    return [(f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">'),
            f"<title>{escape(label)}</title>"]


def _axes(left: int, top: int, plot_w: int, plot_h: int, peak: int, bars: Sequence[Bucket],
          unit: str = "messages") -> list[str]:
    base = top + plot_h
    out = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#cccccc"/>']
    for frac in (0.0, 0.5, 1.0):
        y = base - frac * plot_h
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_n(peak * frac)}</text>')
        out.append(f'<text x="{left + plot_w + 6}" y="{y + 4:.1f}" font-size="11">{frac:.0%}</text>')
    if bars:
        picks = sorted({0, len(bars) // 2, len(bars) - 1})
        step = plot_w / len(bars)
        for i in picks:
            x = left + (i + 0.5) * step
            anchor = "start" if i == 0 and len(picks) > 1 else ("end" if i == len(bars) - 1 and i else "middle")
            out.append(f'<text x="{x:.1f}" y="{base + 15}" text-anchor="{anchor}" font-size="11">'
                       f"{escape(day_text(bars[i].first))}</text>")
    out.append(f'<text x="12" y="{top + plot_h / 2:.0f}" font-size="11" '
               f'transform="rotate(-90 12 {top + plot_h / 2:.0f})" text-anchor="middle">{unit}</text>')
    return out


def _stack(b: Bucket, x: float, step: float, top: int, plot_h: int, peak: int) -> list[str]:
    out = []
    y = float(top + plot_h)
    width = max(1.0, step * 0.8)
    for klass, n in zip(SOURCE_CLASSES, b.classes, strict=False):
        if n <= 0:
            continue
        h = n / peak * plot_h
        y -= h
        out.append(f'<rect class="bar" x="{x + step * 0.1:.2f}" y="{y:.2f}" width="{width:.2f}" height="{h:.2f}" '
                   f'fill="{CLASS_COLOURS[klass]}"><title>{escape(b.label)}: {_n(n)} {klass}</title></rect>')
    return out


def _pass_line(bars: Sequence[Bucket], left: int, step: float, top: int, plot_h: int) -> str:
    points = [(left + (i + 0.5) * step, top + plot_h * (1 - b.dmarc_pass / b.messages))
              for i, b in enumerate(bars) if b.messages]
    if not points:
        return ""
    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{PASS_COLOUR}"/>' for x, y in points) \
        if len(points) <= 40 else ""
    return f'<path class="pass-line" d="{d}" fill="none" stroke="{PASS_COLOUR}" stroke-width="1.5"/>{dots}'


def _legend(left: int, y: int) -> list[str]:
    out = []
    x = left
    for klass in SOURCE_CLASSES:
        out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{CLASS_COLOURS[klass]}"/>'
                   f'<text x="{x + 14}" y="{y}" font-size="11">{klass}</text>')
        x += 24 + 7 * len(klass)
    out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" stroke="{PASS_COLOUR}" stroke-width="1.5"/>'
               f'<text x="{x + 22}" y="{y}" font-size="11">DMARC pass rate (right axis)</text>')
    return out


def sparkline(days: Sequence[DayFigures], first_day: int, last_day: int, *, label: str,
              width: int = 160, height: int = 34) -> Markup:
    """Volume per day (grey bars) under the DMARC pass rate (a line from 0% at the bottom to 100% at the top)."""
    bars = buckets(days, first_day, last_day)
    peak = max((b.messages for b in bars), default=0) or 1
    step = width / max(1, len(bars))
    volume = "".join(
        f"M{i * step:.2f},{height}V{height - b.messages / peak * (height - 2):.2f}h{max(step * 0.8, 0.5):.2f}V{height}Z"
        for i, b in enumerate(bars) if b.messages)
    points = [((i + 0.5) * step, 1 + (height - 2) * (1 - b.dmarc_pass / b.messages)) for i, b in enumerate(bars) if b.messages]
    line = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) if points else ""
    if len(points) == 1:
        line += " h1"
    return Markup(  # noqa: S704 - every value in it was escaped or is a number
        "".join(_svg_open("spark", width, height, label)) +
        f'<path class="spark-volume" d="{volume}" fill="#b0bec5"/>'
        f'<path class="spark-pass" d="{line}" fill="none" stroke="{CLASS_COLOURS["authorised"]}" stroke-width="1.5"/></svg>')


def class_bar(classes: dict[str, int], *, width: int = 160, height: int = 12) -> Markup:
    """One horizontal bar split by class, with each share in its tooltip."""
    total = sum(classes.get(k, 0) for k in SOURCE_CLASSES)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="mix" viewBox="0 0 {width} {height}" width="{width}" '
              f'height="{height}" role="img" aria-label="messages by class">')]
    x = 0.0
    for klass in SOURCE_CLASSES:
        n = classes.get(klass, 0)
        if total and n:
            w = n / total * width
            parts.append(f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="{height}" fill="{CLASS_COLOURS[klass]}">'
                         f"<title>{klass}: {_n(n)} ({n / total:.1%})</title></rect>")
            x += w
    if not total:
        parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eeeeee"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in it was escaped or is a number


SESSION_COLOURS = {"successful": CLASS_COLOURS["authorised"], "failed": CLASS_COLOURS["unauthorised"]}


@dataclass(frozen=True)
class SessionBucket:
    """One bar of the TLS chart: a run of ``days`` UTC days starting at ``first``, summed."""

    first: int
    days: int
    successful: int
    failed: int

    @property
    def label(self) -> str:
        return Bucket(self.first, self.days, 0, 0, ()).label


def session_buckets(days: Sequence[TlsDayRow], first_day: int, last_day: int) -> list[SessionBucket]:
    """Every day of [first_day, last_day] (missing ones as zero), grouped into at most MAX_BARS bars."""
    if last_day < first_day:
        return []
    size = max(1, math.ceil((last_day - first_day + 1) / MAX_BARS))
    sums: dict[int, list[int]] = {}
    for d in days:
        if first_day <= d.day <= last_day:
            slot = sums.setdefault((d.day - first_day) // size, [0, 0])
            slot[0] += d.successful
            slot[1] += d.failed
    out = []
    for i in range((last_day - first_day) // size + 1):
        ok, failed = sums.get(i, [0, 0])
        start = first_day + i * size
        out.append(SessionBucket(start, min(size, last_day - start + 1), ok, failed))
    return out


def sessions_chart(days: Sequence[TlsDayRow], first_day: int, last_day: int, *, label: str,
                   width: int = 760, height: int = 240) -> Markup:
    """TLS sessions per day stacked (successful, failed: left axis) and the success rate (line, right axis)."""
    bars = session_buckets(days, first_day, last_day)
    left, right, top, bottom = 64, 48, 12, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((b.successful + b.failed for b in bars), default=0))
    step = plot_w / max(1, len(bars))
    parts = _svg_open("chart tls-chart", width, height, label)
    as_days = [Bucket(b.first, b.days, 0, 0, ()) for b in bars]  # only their dates label the axis
    parts += _axes(left, top, plot_w, plot_h, peak, as_days, unit="sessions")
    for i, b in enumerate(bars):
        y = float(top + plot_h)
        for name, n in (("successful", b.successful), ("failed", b.failed)):
            if n <= 0:
                continue
            h = n / peak * plot_h
            y -= h
            parts.append(f'<rect class="bar bar-{name}" x="{left + i * step + step * 0.1:.2f}" y="{y:.2f}" '
                         f'width="{max(1.0, step * 0.8):.2f}" height="{h:.2f}" fill="{SESSION_COLOURS[name]}">'
                         f"<title>{escape(b.label)}: {_n(n)} {name}</title></rect>")
    points = [(left + (i + 0.5) * step, top + plot_h * (1 - b.successful / (b.successful + b.failed)))
              for i, b in enumerate(bars) if b.successful + b.failed]
    if points:
        path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<path class="pass-line" d="{path}" fill="none" stroke="{PASS_COLOUR}" stroke-width="1.5"/>')
    x = left
    for name, colour in SESSION_COLOURS.items():
        parts.append(f'<rect x="{x}" y="{height - 27}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{height - 18}" font-size="11">{name}</text>')
        x += 24 + 7 * len(name)
    parts.append(f'<line x1="{x}" y1="{height - 22}" x2="{x + 18}" y2="{height - 22}" stroke="{PASS_COLOUR}" '
                 f'stroke-width="1.5"/><text x="{x + 22}" y="{height - 18}" font-size="11">success rate (right axis)'
                 "</text></svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in it was escaped or is a number


def session_sparkline(days: Sequence[TlsDayRow], first_day: int, last_day: int, *, label: str) -> Markup:
    """The overview's sparkline for TLS: sessions per day (grey bars) under the success rate (the line)."""
    as_messages = [DayFigures(d.day, d.successful + d.failed, d.successful, ()) for d in days]
    return sparkline(as_messages, first_day, last_day, label=label)
