"""Plotly figures from the query layer's frames. No queries here, no Streamlit: pure functions
that a test can call on a small frame.

Money is plotted per currency, one panel (a y axis labelled with its currency) each: two
currencies never share an axis, and are never summed. Exact decimals are turned into floats
only here, for drawing. Figures are built with
``graph_objects`` rather than plotly express: several times faster, and the page draws seven.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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


def per_currency_chart(
    frame: pd.DataFrame, value: str, title: str, axis: str, kind: str = "line"
) -> go.Figure:
    """``value`` per day, one panel per currency (stacked vertically, a shared day axis), each
    y axis titled "<axis> (<currency>)"."""
    if frame.empty:
        return _empty(title)
    frame = _floats(frame, value)
    groups = list(frame.groupby("currency", sort=True))
    figure = make_subplots(
        rows=len(groups), cols=1, shared_xaxes=True, vertical_spacing=0.08 if groups else 0
    )
    for row, (currency, group) in enumerate(groups, start=1):
        trace = (
            go.Bar(x=group["sales_date"], y=group[value], name=currency)
            if kind == "bar"
            else go.Scatter(x=group["sales_date"], y=group[value], name=currency, mode="lines")
        )
        figure.add_trace(trace, row=row, col=1)
        figure.update_yaxes(title_text=f"{axis} ({currency})", row=row, col=1)
    figure.update_xaxes(title_text="Day (event's local date)", row=len(groups), col=1)
    figure.update_layout(
        title=title, height=max(300, 220 * len(groups) + 80), showlegend=False, **_LAYOUT
    )
    return figure


def daily_sales_chart(daily: pd.DataFrame) -> go.Figure:
    """Gross per day, one panel per currency."""
    return per_currency_chart(daily, "gross", "Gross sales per day", "Gross")


def tickets_per_day_chart(daily: pd.DataFrame) -> go.Figure:
    title = "Tickets sold per day"
    if daily.empty:
        return _empty(title)
    frame = _floats(daily, "tickets_sold")
    per_day = frame.groupby("sales_date", as_index=False)["tickets_sold"].sum()
    trace = go.Bar(x=per_day["sales_date"], y=per_day["tickets_sold"], name="Tickets")
    return _figure(title, [trace], xaxis_title="Day (event's local date)", yaxis_title="Tickets")


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
    """Sold / capacity in percent per session (sessions with a capacity), labelled with the
    counts ("62% · 155 of 250")."""
    title = "Sell-through per session (sold / capacity)"
    frame = sessions[pd.to_numeric(sessions["capacity"], errors="coerce") > 0].head(limit)
    if frame.empty:
        return _empty(title)
    frame = _floats(frame, "tickets_sold", "capacity", "sell_through")
    label = frame["session_name"].fillna(frame["session_id"])
    text = [
        f"{share:.0%} · {sold:,.0f} of {capacity:,.0f}"
        for share, sold, capacity in zip(
            frame["sell_through"], frame["tickets_sold"], frame["capacity"], strict=True
        )
    ]
    trace = go.Bar(
        y=label,
        x=frame["sell_through"] * 100,
        orientation="h",
        text=text,
        textposition="outside",
        cliponaxis=False,
        name="Sold",
    )
    figure = _figure(
        title, [trace], xaxis_title="Sold (% of capacity)", height=max(300, 26 * len(frame) + 90)
    )
    figure.update_xaxes(range=[0, 115], ticksuffix="%")
    return figure


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
    """Refunded amount per day (order day), one panel per currency."""
    title = "Refunds per day (by order date)"
    frame = daily[pd.to_numeric(daily["tickets_refunded"], errors="coerce") > 0]
    return per_currency_chart(frame, "refunded", title, "Refunded", kind="bar")
