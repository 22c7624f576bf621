"""The claims report as one self-contained HTML page: inline CSS, SVG margin bars and embedded PNG figures.

Standard library only, so the plugin still depends on pytest alone. Each check is drawn as a bar on which its
threshold, the passing side of it, its reference range and the measured value sit together, so a near miss or
a drift is visible at a glance.
"""

from __future__ import annotations

import math
from html import escape

from ._claim import OPS, Reference, Source, fmt, reference_text

_COLOURS = {"passed": "#1a7f37", "drift": "#b35900", "failed": "#cf222e", "error": "#cf222e", "skipped": "#6e7781"}
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 1200px; color: #1f2328; }
h1 { font-size: 1.6em; } h2 { font-size: 1.15em; margin: 0; }
section.claim { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; }
.badge { color: white; border-radius: 4px; padding: 0 0.5em; font-weight: 600; font-size: 0.85em; }
.muted { color: #57606a; } table { border-collapse: collapse; width: 100%; margin-top: 0.5em; }
td, th { text-align: left; padding: 2px 8px; border-bottom: 1px solid #eaeef2; vertical-align: middle; }
th { font-weight: 600; color: #57606a; } code { font-size: 0.95em; }
.figures { display: flex; gap: 1em; flex-wrap: wrap; } .figures figure { margin: 0; max-width: 32%; }
.figures img { max-width: 100%; border: 1px solid #d0d7de; }
"""
_BAR_WIDTH, _BAR_HEIGHT = 260, 22


def _badge(outcome: str) -> str:
    return f'<span class="badge" style="background:{_COLOURS.get(outcome, "#6e7781")}">{escape(outcome.upper())}</span>'


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _axis(values: list[float]):
    """A map from value to x: logarithmic when every value is positive and they span over two decades."""
    low, high = min(values), max(values)
    if low > 0 and high / low > 100:
        low, high = math.log10(low) - 0.3, math.log10(high) + 0.3
        return lambda v: 10 + (_BAR_WIDTH - 20) * (math.log10(max(v, 1e-300)) - low) / (high - low)
    pad = (high - low) * 0.15 or abs(high) * 0.15 or 1.0
    low, high = low - pad, high + pad
    return lambda v: 10 + (_BAR_WIDTH - 20) * (v - low) / (high - low)


def margin_bar(check: dict) -> str:
    """An inline SVG: the passing side of the threshold (green), the reference range (blue), the threshold (red
    line) and the measured value (a dot coloured by the check's verdict)."""
    threshold, measured, op = check["threshold"], check["measured"], check["op"]
    reference = Reference(**check["reference"]) if isinstance(check.get("reference"), dict) else None
    values = [threshold] + ([measured] if _finite(measured) else [])
    values += [reference.low, reference.high] if reference is not None else []
    x = _axis(values)
    clamp = lambda v: min(_BAR_WIDTH - 2, max(2, v))  # noqa: E731
    t = clamp(x(threshold))
    passing = (t, _BAR_WIDTH - 2) if op in (">=", ">") else (2, t) if op in ("<=", "<") else (t - 1, t + 1)
    parts = [f'<rect x="{passing[0]:.1f}" y="8" width="{passing[1] - passing[0]:.1f}" height="6" fill="#dafbe1"/>']
    if reference is not None:
        a, b = clamp(x(reference.low)), clamp(x(reference.high))
        parts.append(f'<rect x="{a:.1f}" y="5" width="{max(b - a, 2):.1f}" height="12" fill="#54aeff" '
                     f'fill-opacity="0.35"><title>reference {escape(reference.text())}</title></rect>')
    parts.append(f'<line x1="{t:.1f}" y1="2" x2="{t:.1f}" y2="20" stroke="#cf222e" stroke-width="2">'
                 f'<title>threshold {escape(op)} {escape(fmt(threshold))}</title></line>')
    if _finite(measured):
        verdict = "failed" if not check["passed"] else "drift" if check.get("drift") else "passed"
        parts.append(f'<circle cx="{clamp(x(measured)):.1f}" cy="11" r="5" fill="{_COLOURS[verdict]}">'
                     f'<title>measured {escape(fmt(measured))}</title></circle>')
    return (f'<svg width="{_BAR_WIDTH}" height="{_BAR_HEIGHT}" role="img" aria-label="margin of '
            f'{escape(check["name"])}">{"".join(parts)}</svg>')


def _source(source) -> str:
    if not isinstance(source, dict):
        return escape(source or "")
    text = escape(Source(**source).text())
    if source.get("arxiv"):
        text += f' <a href="https://arxiv.org/abs/{escape(source["arxiv"])}">arXiv</a>'
    if source.get("doi"):
        text += f' <a href="https://doi.org/{escape(source["doi"])}">doi</a>'
    return text


def _check_row(check: dict) -> str:
    verdict = "failed" if not check["passed"] else "drift" if check.get("drift") else "passed"
    margin = "-" if check["margin"] is None else f"{check['margin']:.3g}"
    return (f"<tr><td><code>{escape(check['name'])}</code></td><td>{escape(check['op'])} "
            f"{escape(fmt(check['threshold']))}</td><td>{escape(fmt(check['measured']))}</td><td>{margin}</td>"
            f"<td>{margin_bar(check)}</td><td class=\"muted\">{escape(reference_text(check))}</td>"
            f"<td>{_badge(verdict)}</td></tr>")


def _claim_section(claim: dict, index: int) -> str:
    params = ", ".join(f"{k}={fmt(v)}" for k, v in claim["params"].items())
    checked = {c["name"] for c in claim["checks"]}
    extra = [f"<code>{escape(k)}</code> = {escape(fmt(v))}" for k, v in claim["measured"].items() if k not in checked]
    rows = "".join(_check_row(c) for c in claim["checks"])
    return (f'<section class="claim" id="claim-{index}"><h2><span class="claim-id">{escape(claim["id"])}</span> '
            f'{_badge(claim["outcome"])}</h2><p>{escape(claim["statement"])}</p>'
            f'<p class="muted">source: {_source(claim["source"])}<br>params: {escape(params) or "-"}</p>'
            + (f'<p class="muted">{escape(claim["message"])}</p>' if claim.get("message") else "")
            + '<table><tr><th>check</th><th>bound</th><th>measured</th><th>margin</th><th>threshold, reference '
              'and value</th><th>reference</th><th>verdict</th></tr>' + rows + "</table>"
            + (f"<details><summary>reported without a threshold</summary>{'<br>'.join(extra)}</details>"
               if extra else "") + "</section>")


def _figure(figure: dict) -> str:
    images = [("this run", figure.get("png")), ("baseline", figure.get("baseline")), ("difference", figure.get("diff"))]
    shown = [(label, data) for label, data in images if data]
    rms = f", RMS {figure['rms']:.3g}" if figure.get("rms") is not None else ""
    body = "".join(f'<figure><img alt="{escape(figure["name"])} {label}" src="data:image/png;base64,{data}">'
                   f"<figcaption>{label}</figcaption></figure>" for label, data in shown)
    return (f'<section class="claim"><h2>{escape(figure["name"])} {_badge(figure.get("outcome", "passed"))}</h2>'
            f'<p class="muted">{escape(figure.get("nodeid", ""))}{rms}</p><div class="figures">{body}</div></section>')


def _environment(env: dict) -> str:
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td><code>{escape(str(v))}</code></td></tr>" for k, v in env.items())
    return f"<details><summary>environment and provenance</summary><table>{rows}</table></details>"


def render_html(report: dict, figures: list[dict]) -> str:
    """The page: a summary line, the environment, every claim with its margin bars, then the figures."""
    claims = report["claims"]
    counts = ", ".join(f"{sum(c['outcome'] == o for c in claims)} {o}" for o in _COLOURS
                       if any(c["outcome"] == o for c in claims))
    body = "".join(_claim_section(c, i) for i, c in enumerate(claims))
    body += ("<h1>Figures</h1>" + "".join(_figure(f) for f in figures)) if figures else ""
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Claims report</title>"
            f"<style>{_CSS}</style></head><body><h1>Claims report</h1><p>{escape(counts or 'no claim ran')}. "
            "Each bar: the passing side of the threshold (green), the threshold (red), the reference range "
            "measured before (blue) and this run's value (dot).</p>"
            f"{_environment(report['environment'])}{body}</body></html>\n")


def strip_plot(check: dict) -> str:
    """An inline SVG of one check over a study's seeds: the passing side, the reference range, the threshold,
    and one dot per seed (red where the seed failed it)."""
    values = [v for v in check["values"].values() if _finite(v)]
    reference = Reference(**check["reference"]) if isinstance(check.get("reference"), dict) else None
    x = _axis([check["threshold"], *values, *((reference.low, reference.high) if reference else ())])
    bar = margin_bar({"name": check["name"], "op": check["op"], "threshold": check["threshold"],
                      "measured": None, "passed": True, "reference": check.get("reference")})
    dots = "".join(f'<circle cx="{min(_BAR_WIDTH - 2, max(2, x(v))):.1f}" cy="11" r="2.5" fill-opacity="0.6" '
                   f'fill="{_COLOURS["passed"] if _passes(v, check) else _COLOURS["failed"]}"/>' for v in values)
    return bar.replace("</svg>", dots + "</svg>")


def _passes(value: float, check: dict) -> bool:
    return bool(OPS[check["op"]](value, check["threshold"]))


def _percent(rate) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def render_study(summary: dict) -> str:
    """The seed study as one page: each claim's rate with its Wilson 95% interval, then every check's values."""
    rows = "".join(
        f"<tr><td class=\"claim-id\">{escape(cid)}</td><td>{c['held']}/{c['seeds']}</td><td>"
        f"{_percent(c['rate'])}</td>"
        f"<td>{c['wilson95'][0]:.0%} to {c['wilson95'][1]:.0%}</td><td>{c['skipped']}</td>"
        f"<td>{escape(', '.join(map(str, c['not_held_on']))) or '-'}</td></tr>" for cid, c in summary["claims"].items())
    checks = "".join(f"<tr><td><code>{escape(key)}</code></td><td>{escape(c['op'])} {escape(fmt(c['threshold']))}"
                     f"</td><td>{strip_plot(c)}</td></tr>" for key, c in summary["checks"].items())
    seeds = summary["seeds"]
    span = f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]})" if seeds else "no seeds"
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Seed study</title>"
            f"<style>{_CSS}</style></head><body><h1>Seed study: {escape(span)}</h1>"
            "<p>A claim holds on a seed when every instance of it passes there (a drift counts as holding).</p>"
            "<table><tr><th>claim</th><th>held</th><th>rate</th><th>Wilson 95%</th><th>skipped</th>"
            f"<th>did not hold on</th></tr>{rows}</table><h1>Checks</h1><p>One dot per seed on the check's bar "
            f"(red: the seed failed it).</p><table>{checks}</table></body></html>\n")
