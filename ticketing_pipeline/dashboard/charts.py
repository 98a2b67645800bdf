"""Plotly figures from the query layer's frames. No queries here, no Streamlit: pure functions
that a test can call on a small frame.

Money is plotted per currency (a colour or a facet each), never summed across currencies.
Exact decimals are turned into floats only here, for drawing. Figures are built with
``graph_objects`` rather than plotly express: several times faster, and the page draws seven.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# Events drawn on the pace chart; more lines than this are unreadable.
PACE_MAX_EVENTS = 8
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend_title_text": ""}


def _floats(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out


def _empty(title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(title=title, **_LAYOUT)
    figure.add_annotation(text="No data for these filters", showarrow=False)
    return figure


def _figure(title: str, traces: list, **layout: object) -> go.Figure:
    figure = go.Figure(traces)
    figure.update_layout(title=title, **_LAYOUT, **layout)
    return figure


def daily_sales_chart(daily: pd.DataFrame) -> go.Figure:
    """Gross per day, one line per currency."""
    title = "Gross sales per day"
    if daily.empty:
        return _empty(title)
    frame = _floats(daily, "gross")
    traces = [
        go.Scatter(x=group["sales_date"], y=group["gross"], name=currency, mode="lines")
        for currency, group in frame.groupby("currency", sort=True)
    ]
    return _figure(title, traces, xaxis_title="Day", yaxis_title="Gross")


def tickets_per_day_chart(daily: pd.DataFrame) -> go.Figure:
    title = "Tickets sold per day"
    if daily.empty:
        return _empty(title)
    frame = _floats(daily, "tickets_sold")
    per_day = frame.groupby("sales_date", as_index=False)["tickets_sold"].sum()
    trace = go.Bar(x=per_day["sales_date"], y=per_day["tickets_sold"], name="Tickets")
    return _figure(title, [trace], xaxis_title="Day", yaxis_title="Tickets")


def cumulative_pace(pace: pd.DataFrame, max_events: int = PACE_MAX_EVENTS) -> pd.DataFrame:
    """Cumulative tickets per event by days before the event (largest events first)."""
    if pace.empty:
        return pace.assign(cumulative_tickets=pd.Series(dtype="float64"))
    frame = _floats(pace, "tickets_sold")
    frame["event"] = frame["event_name"].fillna(frame["event_id"])
    top = frame.groupby("event")["tickets_sold"].sum().nlargest(max_events).index
    frame = frame[frame["event"].isin(top)].sort_values(["event", "days_to_event"], ascending=False)
    frame["cumulative_tickets"] = frame.groupby("event")["tickets_sold"].cumsum()
    return frame


def pace_chart(pace: pd.DataFrame) -> go.Figure:
    title = "Cumulative tickets sold vs days to the event"
    frame = cumulative_pace(pace)
    if frame.empty:
        return _empty(title)
    traces = [
        go.Scatter(
            x=group["days_to_event"], y=group["cumulative_tickets"], name=event, mode="lines"
        )
        for event, group in frame.groupby("event", sort=True)
    ]
    figure = _figure(title, traces, xaxis_title="Days before the session", yaxis_title="Tickets")
    # Count down towards the event, left to right.
    figure.update_xaxes(autorange="reversed")
    return figure


def sell_through_chart(sessions: pd.DataFrame, limit: int = 25) -> go.Figure:
    """Sold vs remaining per session (sessions with a capacity), soonest last."""
    title = "Sell-through per session"
    frame = sessions[pd.to_numeric(sessions["capacity"], errors="coerce") > 0].head(limit)
    if frame.empty:
        return _empty(title)
    frame = _floats(frame, "tickets_sold", "tickets_remaining", "sell_through")
    label = frame["session_name"].fillna(frame["session_id"])
    traces = [
        go.Bar(y=label, x=frame["tickets_sold"], name="Sold", orientation="h"),
        go.Bar(y=label, x=frame["tickets_remaining"], name="Remaining", orientation="h"),
    ]
    return _figure(title, traces, barmode="stack", height=max(300, 24 * len(frame)))


def share_chart(breakdown: pd.DataFrame, key: str, title: str) -> go.Figure:
    """Tickets sold by ``key`` (ticket type, channel, promo code), stacked per currency."""
    if breakdown.empty:
        return _empty(title)
    frame = _floats(breakdown, "tickets_sold")
    frame[key] = frame[key].fillna("(none)")
    traces = [
        go.Bar(x=group["tickets_sold"], y=group[key], name=currency, orientation="h")
        for currency, group in frame.groupby("currency", sort=True)
    ]
    return _figure(title, traces, barmode="stack", xaxis_title="Tickets sold")


def refunds_chart(daily: pd.DataFrame) -> go.Figure:
    """Refunded amount per day (order day) and currency."""
    title = "Refunds per day (by order date)"
    if daily.empty:
        return _empty(title)
    frame = daily[pd.to_numeric(daily["tickets_refunded"], errors="coerce") > 0]
    if frame.empty:
        return _empty(title)
    frame = _floats(frame, "refunded")
    traces = [
        go.Bar(x=group["sales_date"], y=group["refunded"], name=currency)
        for currency, group in frame.groupby("currency", sort=True)
    ]
    return _figure(title, traces, xaxis_title="Day", yaxis_title="Refunded")
