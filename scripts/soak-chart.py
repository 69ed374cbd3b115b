#!/usr/bin/env python3
"""Draws the curves of a `refx-bench --soak` run as one small SVG.

usage: scripts/soak-chart.py SOAK.json OUT.svg [--title TEXT]

SOAK.json is what `refx-bench --soak MINUTES --json-file SOAK.json` writes.
Four panels side by side, each against minutes since the start: the
server's RSS (MB), open file descriptors, threads, and the watch stream's
event lag p99 (ms). A flat line is what a soak hopes to see. Standard
library only, so it runs on a fresh Debian machine.
"""
import argparse
import json
import sys
from xml.sax.saxutils import escape

PANELS = [
    ("rssMb", "RSS (MB)"),
    ("fds", "file descriptors"),
    ("threads", "threads"),
    ("lagP99Ms", "watch lag p99 (ms)"),
]
WIDTH, HEIGHT = 220, 150  # one panel
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 44, 28, 24


def panel(samples, key, label, x0):
    xs = [s["minutes"] for s in samples]
    ys = [s[key] for s in samples]
    y_max = max(ys) * 1.15 if ys and max(ys) > 0 else 1.0
    x_max = max(xs) if xs and max(xs) > 0 else 1.0
    plot_w = WIDTH - MARGIN_LEFT - 10
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def px(x):
        return x0 + MARGIN_LEFT + plot_w * x / x_max

    def py(y):
        return MARGIN_TOP + plot_h * (1 - y / y_max)

    out = [
        f'<text x="{x0 + WIDTH / 2}" y="14" text-anchor="middle" font-size="12">{escape(label)}</text>',
        f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(x_max)}" y2="{py(0)}" stroke="#888"/>',
        f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(0)}" y2="{py(y_max)}" stroke="#888"/>',
        f'<text x="{px(0) - 4}" y="{py(0) + 4}" text-anchor="end" font-size="10">0</text>',
        f'<text x="{px(0) - 4}" y="{py(y_max) + 8}" text-anchor="end" font-size="10">{y_max:.0f}</text>',
        f'<text x="{px(x_max)}" y="{py(0) + 14}" text-anchor="end" font-size="10">{x_max:.0f} min</text>',
    ]
    points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
    out.append(f'<polyline points="{points}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>')
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("soak_json")
    parser.add_argument("out_svg")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    with open(args.soak_json, encoding="utf-8") as f:
        report = json.load(f)
    samples = report.get("samples", [])
    if not samples:
        sys.exit(f"{args.soak_json}: no samples")
    title_h = 20 if args.title else 0
    total_w = WIDTH * len(PANELS)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{HEIGHT + title_h}" '
        f'font-family="sans-serif">',
        f'<rect width="{total_w}" height="{HEIGHT + title_h}" fill="white"/>',
    ]
    if args.title:
        parts.append(f'<text x="6" y="14" font-size="12">{escape(args.title)}</text>')
    parts.append(f'<g transform="translate(0,{title_h})">')
    for i, (key, label) in enumerate(PANELS):
        parts.extend(panel(samples, key, label, i * WIDTH))
    parts.append("</g></svg>")
    with open(args.out_svg, "w", encoding="utf-8") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
