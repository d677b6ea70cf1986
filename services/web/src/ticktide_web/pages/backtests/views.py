"""The backtest pages' shared vocabulary: the metric columns and how each is
shown (mirrored by static/js/backtest_format.js), a batch's progress, sorting
results, walk-forward series, and the links and keys of one result. Pure."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from ticktide_common.backtests.catalogue import LOWER_IS_BETTER
from ticktide_web.grid_syntax import compact_values, format_values

API = "/api/crypto/backtest"
INTERVALS = ("1h", "4h", "1d")
# The table's metric columns (CONTRACT §2: every result has them), then the rest.
METRICS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "trades",
    "exposure",
    "final_equity",
)
EXTRA_METRICS = ("calmar", "expectancy", "max_drawdown_duration")
RANK_BY = (
    *METRICS[:5],
    "max_drawdown_duration",
    "calmar",
    *METRICS[5:7],
    "expectancy",
    *METRICS[7:],
)
PERCENT = frozenset({"total_return", "cagr", "max_drawdown", "win_rate", "exposure"})
COUNTS = frozenset({"trades", "max_drawdown_duration"})
TEXT_COLUMNS = ("symbol", "interval", "params")
RESULTS_FETCH = 5000  # results sorted here; more than that: the best by rank_by
RESULTS_PAGE = 100
BATCHES_PAGE = 20


def metric_text(name: str, value: Any) -> str:
    """A metric as the tables show it (mirrored by static/js/backtest_format.js)."""
    if value is None or isinstance(value, bool):
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "—"
    if name in PERCENT:
        return f"{number * 100:.2f} %"
    if name in COUNTS:
        return f"{int(number):,}"
    if name in ("final_equity", "expectancy"):
        return f"{number:,.2f}"
    return f"{number:.2f}"


def params_text(params: dict[str, Any]) -> str:
    if params.get("walk_forward") == "out_of_sample":
        return f"walk-forward out-of-sample ({len(params.get('windows') or [])} windows)"
    shown = ", ".join(
        f"{k}={format_values([v])}" for k, v in params.items() if k not in ("walk_forward",)
    )
    if params.get("walk_forward") == "in_sample":
        return f"in-sample best: {shown}"
    return shown or "defaults"


def json_block(data: Any) -> Markup:
    """JSON for a `<script type="application/json">` block (never executed; CSP
    allows it): `<`, `>` and `&` escaped so nothing can close the element."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above


def canonical(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def epoch_when(epoch: Any) -> str:
    try:
        return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError, OverflowError, OSError):
        return "—"


def duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def batch_summary(batch: dict[str, Any], progress: dict[str, Any]) -> str:
    """The line under a finished batch's progress: how it ended and its best result."""
    if progress["running"]:
        return ""
    results = batch.get("results") or []
    jobs = batch.get("jobs") or {}
    text = f"{'Cancelled' if batch.get('status') == 'cancelled' else 'Finished'}"
    text += f" in {progress['took']}" if progress.get("took") else ""
    text += f": {int(batch.get('backtests') or 0) if not results else len(results):,} results"
    if jobs.get("failed"):
        text += f", {jobs['failed']} jobs failed"
    if jobs.get("skipped"):
        text += f", {jobs['skipped']} jobs skipped"
    rank = batch.get("rank_by") or "sharpe"
    if results:
        best = results[0]  # the API answers them best first by rank_by
        text += (
            f". Best by {rank}: {best.get('symbol')} {best.get('interval')} "
            f"{params_text(best.get('params') or {})} "
            f"({metric_text(rank, (best.get('metrics') or {}).get(rank))})."
        )
    return text


HELPERS: dict[str, Any] = {
    "compact_values": compact_values,
    "format_values": format_values,
    "metric_text": metric_text,
    "params_text": params_text,
    "json_block": json_block,
    "canonical": canonical,
    "epoch_when": epoch_when,
    "duration": duration,
    "METRICS": METRICS,
    "EXTRA_METRICS": EXTRA_METRICS,
    "LOWER_IS_BETTER": LOWER_IS_BETTER,
}


def progress_of(batch: dict[str, Any]) -> dict[str, Any]:
    jobs = batch.get("jobs") or {}
    total = int(jobs.get("total") or 0)
    done = int(jobs.get("done") or 0) + int(jobs.get("failed") or 0) + int(jobs.get("skipped") or 0)
    running = batch.get("finished_at") is None
    eta = None
    created = parse_time(batch.get("created_at"))
    if running and created and 0 < done < total:
        elapsed = (datetime.now(UTC) - created).total_seconds()
        eta = duration(elapsed / done * (total - done))
    if not running:
        state = batch.get("status") or "done"
    elif batch.get("status") == "cancelled":
        state = "cancelling"
    else:
        state = "running" if done else "queued"
    took = None
    finished = parse_time(batch.get("finished_at"))
    if created and finished:
        took = duration((finished - created).total_seconds())
    return {
        "total": total,
        "done": done,
        "running": running,
        "eta": eta,
        "state": state,
        "took": took,
    }


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _sort_key(column: str) -> Any:
    def key(result: dict[str, Any]) -> Any:
        if column in TEXT_COLUMNS:
            value = result.get(column)
            if column == "params":
                return [
                    str(v) if not isinstance(v, int | float) else v for v in (value or {}).values()
                ]
            return str(value or "")
        metric = (result.get("metrics") or {}).get(column)
        return (metric is None, metric if metric is not None else 0)

    return key


def sort_results(results: list[dict[str, Any]], column: str, order: str) -> list[dict[str, Any]]:
    """Results by one column; a metric's missing values last either way."""
    if column in TEXT_COLUMNS:
        return sorted(results, key=_sort_key(column), reverse=order == "desc")
    present = [r for r in results if (r.get("metrics") or {}).get(column) is not None]
    missing = [r for r in results if (r.get("metrics") or {}).get(column) is None]
    present.sort(key=lambda r: r["metrics"][column], reverse=order == "desc")
    return present + missing


def best_order(column: str) -> str:
    if column in TEXT_COLUMNS or column in LOWER_IS_BETTER:
        return "asc"
    return "desc"


def walk_forward_series(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Walk-forward series: each out-of-sample result beside its in-sample best."""
    series = []
    for result in results:
        params = result.get("params") or {}
        if params.get("walk_forward") != "out_of_sample":
            continue
        in_sample = next(
            (
                r
                for r in results
                if (r.get("params") or {}).get("walk_forward") == "in_sample"
                and r.get("symbol") == result.get("symbol")
                and r.get("interval") == result.get("interval")
            ),
            None,
        )
        series.append(
            {
                "symbol": result.get("symbol"),
                "interval": result.get("interval"),
                "windows": params.get("windows") or [],
                "out_of_sample": result,
                "in_sample": in_sample,
            }
        )
    return series


def result_link(batch_id: str, result: dict[str, Any], **extra: Any) -> str:
    query = {
        "job": result.get("job_id"),
        "symbol": result.get("symbol"),
        "interval": result.get("interval"),
        "params": canonical(result.get("params") or {}),
        **extra,
    }
    return f"/backtests/{batch_id}/result?{urlencode(query)}"


def compare_key(result: dict[str, Any]) -> str:
    return "|".join(
        (
            str(result.get("job_id")),
            str(result.get("symbol")),
            str(result.get("interval")),
            canonical(result.get("params") or {}),
        )
    )
