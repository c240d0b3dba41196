"""The HTML progress report: one self-contained page, charts drawn by matplotlib and embedded as PNG.

matplotlib loads on first use (``viva --help`` must stay cheap) and always with the Agg backend, so no
display is needed.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime, timedelta
from pathlib import Path

from viva.errors import InputError
from viva.reports.progress import Progress, daily_topic_scores
from viva.reports.terminal import pct

DPI = 100
CHART_SIZE = (10, 4.2)  # inches: 1000 x 420 px at DPI
SAID_COLOR, RECOG_COLOR, MISS_COLOR = "#1f77b4", "#ff7f0e", "#d62728"
CHARTS = ("score-history", "could-say-vs-recognized", "due-forecast", "missed-concepts")

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1040px; color: #222; }
h1 { margin-bottom: 0.2rem; } .meta { color: #666; margin-top: 0; }
section { margin: 1.5rem 0; } img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; } th, td { padding: 0.25rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } tr:nth-child(even) { background: #f4f4f4; }
tfoot td { font-weight: bold; border-top: 1px solid #999; } .note { color: #555; font-size: 0.9rem; }
"""


def _figure(height: float = CHART_SIZE[1]):
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=(CHART_SIZE[0], height), dpi=DPI, layout="constrained")


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666", fontsize=13)
    ax.set_xticks([])
    ax.set_yticks([])


def score_history_chart(progress: Progress) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    lines = daily_topic_scores(progress.history)
    if not lines:
        _empty(ax, "No said attempts yet")
    for topic, points in lines.items():
        ax.plot([d for d, _ in points], [s for _, s in points], marker="o", label=topic)
    if lines:
        ax.set_ylim(0, 100)
        ax.set_ylabel("mean score per day (0-100)")
        ax.axhline(60, color="#999", linestyle="--", linewidth=1)  # the rubric's Good cut-off
        ax.legend(loc="lower left", fontsize=8, ncols=2)
        from matplotlib.dates import AutoDateLocator, DateFormatter

        ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=10))
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
        fig.autofmt_xdate()
    ax.set_title("Score history per topic")
    return _png(fig)


def could_say_chart(progress: Progress) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    topics = progress.topics
    ys = range(len(topics))
    ax.barh([y - 0.2 for y in ys], [t.recognized_pct or 0 for t in topics], height=0.4, color=RECOG_COLOR,
            label="recognized")
    ax.barh([y + 0.2 for y in ys], [t.could_say_pct or 0 for t in topics], height=0.4, color=SAID_COLOR,
            label="could say")
    ax.set_yticks(list(ys), [t.topic for t in topics])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the topic's questions")
    ax.legend(loc="lower right")
    ax.set_title("Could say vs recognized, per topic")
    return _png(fig)


def due_chart(progress: Progress, now: datetime) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    days = len(progress.due_said)
    labels = ["today" if i == 0 else (now + timedelta(days=i)).astimezone().strftime("%d %b") for i in range(days)]
    said = list(progress.due_said)
    recog = list(progress.due_recognized) + [0] * (days - len(progress.due_recognized))
    ax.bar(labels, said, color=SAID_COLOR, label="say aloud")
    ax.bar(labels, recog[:days], bottom=said, color=RECOG_COLOR, label="recognize")
    ax.set_ylabel("reviews due")
    _integer_ticks(ax.yaxis)
    ax.legend(loc="upper right")
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_title(f"Reviews due over the next {days} days")
    return _png(fig)


def missed_chart(progress: Progress) -> str:
    misses = progress.missed_concepts
    fig = _figure(min(CHART_SIZE[1], 1.2 + 0.35 * len(misses)) if misses else CHART_SIZE[1])
    ax = fig.add_subplot()
    if not misses:
        _empty(ax, "No missed concepts recorded yet")
    else:
        labels = [f"{m.concept} ({m.question_id})" for m in misses]
        ax.barh(labels, [m.missed for m in misses], height=0.6, color=MISS_COLOR)
        ax.invert_yaxis()
        ax.set_xlabel("times missed")
        _integer_ticks(ax.xaxis)
    ax.set_title("Concepts missed most often")
    return _png(fig)


def _topic_rows(progress: Progress) -> str:
    def row(t) -> str:
        cells = (t.topic, t.questions, pct(t.recognized_pct), pct(t.could_say_pct), f"{t.gap} ({pct(t.gap_pct)})",
                 f"{t.overconfident}/{t.predicted_yes}" if t.predicted_yes else "-",
                 "-" if t.mean_score is None else f"{t.mean_score:.0f}")
        return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"

    head = "".join(f"<th>{h}</th>" for h in ("topic", "questions", "recognized", "could say", "gap",
                                            "overconfident", "mean score"))
    body = "\n".join(row(t) for t in progress.topics)
    return (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"<tfoot>{row(progress.overall)}</tfoot></table>")


def render_html(progress: Progress, now: datetime) -> str:
    """The whole report page as one string; every chart is an embedded PNG."""
    charts = dict(zip(CHARTS, (score_history_chart(progress), could_say_chart(progress),
                               due_chart(progress, now), missed_chart(progress))))
    alts = {"score-history": "Score history per topic", "could-say-vs-recognized": "Could say vs recognized per topic",
            "due-forecast": "Reviews due per day", "missed-concepts": "Concepts missed most often"}
    imgs = "\n".join(
        f'<section><img id="{key}" class="chart" alt="{alts[key]}" src="data:image/png;base64,{data}"></section>'
        for key, data in charts.items())
    streak = f"{progress.streak_days} day(s) in a row, longest {progress.longest_streak}"
    when = now.astimezone().strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>viva progress report</title>
<style>{CSS}</style></head>
<body>
<h1>viva progress report</h1>
<p class="meta">{when} · {progress.attempts} attempts · streak: {streak}</p>
<section><h2>By topic</h2>{_topic_rows(progress)}
<p class="note">could say: latest said attempt rated good or easy · recognized: latest recognition review good
or easy · gap: recognized but not could-say · overconfident: predicted "I know it", then rated again or hard.</p>
</section>
{imgs}
</body></html>
"""


def write_html(progress: Progress, now: datetime, out: Path) -> Path:
    """Write the report to ``out``; raise ``InputError`` for a path that cannot be written."""
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out} is a folder; give a file name such as {out / 'report.html'}")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: no such folder; create it or choose another path")
    page = render_html(progress, now)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write ({exc.strerror})") from None
    return out
