"""What every part of the HTML report shares: escaping, preformatted text, the style sheet."""

from __future__ import annotations

from html import escape

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 10px} h3{font-size:15px;margin:18px 0 6px}
.banner{padding:18px 24px;border-radius:8px;color:#fff;margin-bottom:20px}
.banner.conforms{background:#1a7f37} .banner.advisories{background:#4d7c0f}
.banner.nonconforming{background:#cf222e} .banner.incomplete{background:#9a6700}
.banner p{margin:4px 0 0}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eaeef2}
td.status{font-weight:600;white-space:nowrap}
.verified{color:#1a7f37} .failed{color:#cf222e} .advisory{color:#9a6700} .untestable{color:#8250df}
.not-run{color:#57606a}
.counts{display:flex;gap:12px;margin:0 0 16px} .counts div{background:#fff;border:1px solid #d0d7de;
border-radius:6px;padding:8px 14px;font-size:13px} .counts b{display:block;font-size:20px}
.source{color:#57606a;font-size:12px}
pre{background:#0d1117;color:#e6edf3;padding:10px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;
word-break:break-all;font-size:12px;max-height:480px;overflow-y:auto}
.finding{background:#fff;border:1px solid #d0d7de;border-left:4px solid #cf222e;border-radius:6px;padding:12px 16px;
margin-bottom:16px} .finding.advisory-box{border-left-color:#9a6700}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;font-size:13px}
dl.meta dt{font-weight:600} dl.meta dd{margin:0}
ul.found{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 10px 10px 30px;margin:0 0 12px}
ul.found li{margin:4px 0;font-size:14px}
.tag{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;margin-left:6px;background:#eaeef2}
.tag.accepted{background:#ddf4ff;color:#0969da} .tag.new,.tag.expired{background:#ffebe9;color:#cf222e}
.chip{display:inline-block;border-radius:4px;padding:1px 6px;margin:1px;font-size:12px;font-family:monospace}
.chip.seen{background:#dafbe1;color:#1a7f37} .chip.unseen{background:#eaeef2;color:#57606a}
.chip.undocumented{background:#ffebe9;color:#cf222e;font-weight:600}
.chip.verified{background:#dafbe1} .chip.advisory{background:#fff8c5} .chip.failed{background:#ffebe9;font-weight:600}
.chip.untestable{background:#fbefff} .chip.not-run{background:#eaeef2}
td.cell{text-align:center;font-size:12px;min-width:34px} td.cell.verified{background:#dafbe1}
td.cell.advisory{background:#fff8c5} td.cell.failed{background:#ffebe9;font-weight:600}
td.cell.untestable{background:#fbefff}
.legend{font-size:12px;color:#57606a;margin:6px 0 12px}
"""


def e(value: object) -> str:
    """``value`` escaped for HTML text and attributes (None as empty)."""
    return escape("" if value is None else str(value), quote=True)


def pre(text: object) -> str:
    return f"<pre>{e(text)}</pre>"
