"""The figures a run produces, their peers, their targets, and the table and JSON they become.

Every figure names its peer (what it is compared with, measured in the same run) and the ratio to it;
``ratio_is`` says which way the ratio goes when it is not simply dmarcflow / peer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ISSUE = "16"  # the issue whose targets this suite checks; older targets are marked "earlier"


@dataclass(frozen=True)
class Target:
    """``value`` (or ``ratio`` when on_ratio) must be >= or <= bound."""

    op: str  # ">=" or "<="
    bound: float
    on_ratio: bool = False
    issue: str = ISSUE  # where the target comes from: "16", or "earlier" for targets set before it
    percent: bool = False  # a ratio target shown as a percentage (0.8 -> 80%)

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        measured = ratio if self.on_ratio else value
        if measured is None:
            return None
        return measured >= self.bound if self.op == ">=" else measured <= self.bound

    def text(self, unit: str) -> str:
        if self.percent:
            body = f"{self.op} {self.bound * 100:,g}% of peer"
        elif self.on_ratio:
            body = f"{self.op} {self.bound:,g}x peer"
        else:
            body = f"{self.op} {self.bound:,g} {unit}".rstrip()
        return f"{body} (issue {self.issue})" if self.issue != "earlier" else f"{body} (earlier target)"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    dmarcflow: float | None
    peer_value: float | None = None  # the peer's figure in the same unit (None: the peer has no such figure)
    ratio: float | None = None  # dmarcflow / peer, unless ratio_is says otherwise
    target: Target | None = None
    note: str = ""
    peer: str = "-"  # what the figure is compared with, measured in the same run
    ratio_is: str = ""  # e.g. "peer time / ours"; empty: dmarcflow / peer
    peer_unit: str | None = None  # when the peer's figure has another unit than ours
    ratio_percent: bool = False  # show the ratio as a percentage of the peer

    @property
    def met(self) -> bool | None:
        return self.target.met(self.dmarcflow, self.ratio) if self.target else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["target"] = self.target.text(self.unit) if self.target else None
        out["target_issue"] = self.target.issue if self.target else None
        out["met"] = self.met
        out["ratio_is"] = self.ratio_is or ("dmarcflow / peer" if self.ratio is not None else "")
        out["verdict"] = verdict(self)
        out["row"] = rows([self])[0]  # the table row as printed: the README is rendered from these
        return out


def not_available(key: str, label: str, unit: str, target: Target | None, why: str, peer: str = "-") -> Figure:
    return Figure(key, label, unit, None, target=target, note=f"not available: {why}", peer=peer)


def num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.01 or value == 0:
        return f"{value:.2f}"
    return f"{value:.2g}"


def verdict(fig: Figure) -> str:
    met = fig.met
    if met is None:
        return "n/a" if fig.target is None else "not measured"
    return "met" if met else "MISSED"


def _ratio(fig: Figure) -> str:
    if fig.ratio is None:
        return "-"
    percent = fig.ratio_percent or (fig.target is not None and fig.target.percent)
    text = f"{fig.ratio * 100:.0f}%" if percent else f"{num(fig.ratio)}x"
    return text + (f" ({fig.ratio_is})" if fig.ratio_is else "")


def _with_unit(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return num(value) + (f" {unit}" if unit else "")


def rows(figures: list[Figure]) -> list[list[str]]:
    out = []
    for f in figures:
        peer_unit = f.unit if f.peer_unit is None else f.peer_unit
        out.append([
            f.label,
            _with_unit(f.dmarcflow, f.unit),
            f.peer,
            _with_unit(f.peer_value, peer_unit),
            _ratio(f),
            f.target.text(f.unit) if f.target else "-",
            verdict(f),
            f.note,
        ])
    return out


HEADER = ["figure", "dmarcflow", "peer", "peer's figure", "ratio", "target", "verdict", "note"]


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
