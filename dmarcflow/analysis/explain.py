"""0.1 home of the explanations: they are verdict rules, shared by every layer, in ``dmarcflow.verdict``."""

from dmarcflow.verdict import FORWARDING_REASONS, dkim_part, explain, mix_note, spf_part

__all__ = ["FORWARDING_REASONS", "dkim_part", "explain", "mix_note", "spf_part"]
