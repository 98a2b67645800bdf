// Renders the Gigs feed (/v1/gigs) as event cards: an example of a consumer of the public API.
"use strict";

const list = document.getElementById("gigs");
const status = document.getElementById("status");
const more = document.getElementById("more");
const form = document.getElementById("filters");
let nextCursor = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function when(gig) {
  // The feed gives the local time with its offset: show it as the venue's wall clock.
  const local = gig.starts_at_local || gig.starts_at;
  if (!local) return "Date to be announced";
  const [day, time] = local.split("T");
  return `${day} ${time.slice(0, 5)}${gig.timezone ? " (" + gig.timezone + ")" : ""}`;
}

function price(gig) {
  if (!gig.price) return null;
  const { min, max, currency } = gig.price;
  if (min === null && max === null) return null;
  if (Number(max) === 0) return "Free";
  if (min === max || max === null) return `${min} ${currency}`;
  return `${min} – ${max} ${currency}`;
}

function card(gig) {
  const item = el("li", "card");
  item.dataset.gigId = gig.id;
  item.append(el("h2", null, gig.title || gig.session_name || "Gig"));
  item.append(el("div", "when", when(gig)));
  const venue = [gig.venue.name, gig.venue.city, gig.venue.country].filter(Boolean).join(", ");
  item.append(el("div", "where", venue || (gig.venue.is_online ? "Online" : "")));
  const cost = price(gig);
  if (cost) item.append(el("div", "price", cost));
  if (gig.is_sold_out) item.append(el("div", "soldout", "Sold out"));
  else if (gig.tickets_remaining !== null) {
    item.append(el("div", "remaining", `${gig.tickets_remaining} left`));
  }
  if (gig.ticket_url && !gig.is_sold_out) {
    const link = el("a", "buy", "Buy tickets");
    link.href = gig.ticket_url;
    link.rel = "noopener";
    item.append(link);
  }
  return item;
}

async function load(reset) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) if (value) params.set(name, value);
  params.set("limit", "24");
  if (!reset && nextCursor) params.set("cursor", nextCursor);
  status.textContent = "Loading…";
  const response = await fetch(`/v1/gigs?${params}`);
  if (!response.ok) {
    status.textContent = `The feed answered ${response.status}`;
    return;
  }
  const page = await response.json();
  if (reset) list.replaceChildren();
  page.items.forEach((gig) => list.append(card(gig)));
  nextCursor = page.next_cursor;
  more.hidden = !nextCursor;
  status.textContent = list.children.length ? "" : "No upcoming gigs match.";
}

form.addEventListener("submit", (event) => { event.preventDefault(); load(true); });
more.addEventListener("click", () => load(false));
load(true);
