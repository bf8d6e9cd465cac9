"""The figures a run produces, their targets, and the table and JSON they become."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """``value`` (or ``ratio`` when on_ratio) must be >= or <= bound."""

    op: str  # ">=" or "<="
    bound: float
    on_ratio: bool = False

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        measured = ratio if self.on_ratio else value
        if measured is None:
            return None
        return measured >= self.bound if self.op == ">=" else measured <= self.bound

    def text(self, unit: str) -> str:
        if self.on_ratio:
            return f"{self.op} {self.bound:,g}x parsedmarc"
        return f"{self.op} {self.bound:,g} {unit}"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    dmarcflow: float | None
    parsedmarc: float | None = None
    ratio: float | None = None  # dmarcflow / parsedmarc, or as stated in the label
    target: Target | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        return self.target.met(self.dmarcflow, self.ratio) if self.target else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["target"] = self.target.text(self.unit) if self.target else None
        out["met"] = self.met
        return out


def not_available(key: str, label: str, unit: str, target: Target | None, why: str) -> Figure:
    return Figure(key, label, unit, None, target=target, note=f"not available: {why}")


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _verdict(fig: Figure) -> str:
    met = fig.met
    if met is None:
        return "n/a" if fig.target is None or fig.dmarcflow is None and fig.ratio is None else "-"
    return "met" if met else "MISSED"


def rows(figures: list[Figure]) -> list[list[str]]:
    out = []
    for f in figures:
        unit = f" {f.unit}" if f.unit else ""
        out.append([
            f.label,
            _num(f.dmarcflow) + (unit if f.dmarcflow is not None else ""),
            _num(f.parsedmarc) + (unit if f.parsedmarc is not None else ""),
            f"{_num(f.ratio)}x" if f.ratio is not None else "-",
            f.target.text(f.unit) if f.target else "-",
            _verdict(f),
            f.note,
        ])
    return out


HEADER = ["figure", "dmarcflow", "parsedmarc", "ratio", "target", "verdict", "note"]


def text_table(figures: list[Figure]) -> str:
    body = [HEADER] + rows(figures)
    widths = [max(len(r[i]) for r in body) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(figures: list[Figure]) -> str:
    body = rows(figures)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in body]
    return "\n".join(lines)
