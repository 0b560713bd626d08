"""An entity view for notebooks: text with its spans highlighted (HTML), and a plain-text fallback."""

from __future__ import annotations

import html
from collections.abc import Sequence

_COLOURS = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa", "#a5f3fc", "#e5e7eb"]


def entities_html(text: str, spans: Sequence) -> str:
    """Spans need .start, .end, .label (overlaps: the earlier span wins)."""
    labels = sorted({s.label for s in spans})
    colour = {lab: _COLOURS[i % len(_COLOURS)] for i, lab in enumerate(labels)}
    out, pos = [], 0
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if s.start < pos:
            continue
        out.append(html.escape(text[pos : s.start]))
        out.append(f'<mark style="background:{colour[s.label]};padding:0 2px;border-radius:3px">'
                   f'{html.escape(text[s.start : s.end])} <small><b>{html.escape(s.label)}</b></small></mark>')
        pos = s.end
    out.append(html.escape(text[pos:]))
    return '<div style="line-height:2">' + "".join(out) + "</div>"


def entities_text(text: str, spans: Sequence) -> str:
    return " ".join(f"[{text[s.start:s.end]}]({s.label})" for s in sorted(spans, key=lambda s: s.start)) or "(none)"
