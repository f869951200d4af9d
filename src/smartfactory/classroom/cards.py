"""Printable login cards: one per member with username, password, namespace, broker and dashboard addresses.

Markdown (for a quick look or a wiki) and a self-contained HTML page that prints several cards per A4 sheet.
Both hold passwords: they are written readable by their owner only.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from smartfactory.classroom.roster import Account, ClassInfo
from smartfactory.edge.broker import CLIENT_ID_PREFIX

#: The class broker refuses other client ids (`clientid_prefixes`: ids are bound to accounts, see mosquitto.py).
CLIENT_ID_RULE = f"empty, or beginning with {CLIENT_ID_PREFIX}"


@dataclass(frozen=True, slots=True)
class Card:
    title: str
    username: str
    password: str
    namespace: str
    mqtt_url: str
    dashboard_url: str
    seed: int | None


def cards(info: ClassInfo, accounts: dict[str, Account]) -> list[Card]:
    """One card per member (students first, in class order, then the lecturer)."""
    members = sorted(info.members, key=lambda m: (m.is_lecturer, m.index))
    out = []
    for m in members:
        account = accounts[m.username]
        title = m.name or m.username
        if m.is_lecturer:
            title = f"Lecturer ({m.username})"
        out.append(
            Card(
                title=title,
                username=m.username,
                password=account.password,
                namespace=m.namespace,
                mqtt_url=f"mqtt://{m.username}:{account.password}@{info.address}:{info.port}",
                dashboard_url=f"http://{info.address}:{info.dashboard_port}",
                seed=m.seed,
            )
        )
    return out


def _topic_line(card: Card) -> str:
    if card.namespace and "/" in card.namespace:
        return f"{card.namespace}/#"
    return "every namespace (read); commands anywhere"


def markdown(class_cards: Sequence[Card]) -> str:
    blocks = ["# smartfactory classroom: login cards", ""]
    for card in class_cards:
        blocks += [
            f"## {card.title}",
            "",
            f"- Username: `{card.username}`",
            f"- Password: `{card.password}`",
            f"- Your topics: `{_topic_line(card)}`",
            f"- Broker: `{card.mqtt_url}`",
            f"- MQTT client id: {CLIENT_ID_RULE}",
            f"- Dashboard: <{card.dashboard_url}> (sign in with the username and password above)",
        ]
        if card.seed is not None:
            blocks.append(f"- Your plant's seed: {card.seed}")
        blocks.append("")
    return "\n".join(blocks)


CSS = """
body { font-family: sans-serif; margin: 1cm; }
.cards { display: grid; grid-template-columns: repeat(2, 1fr); gap: 0.6cm; }
.card { border: 1px dashed #555; padding: 0.5cm; break-inside: avoid; page-break-inside: avoid; }
.card h2 { margin: 0 0 0.3cm 0; font-size: 14pt; }
.card dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.1cm 0.4cm; margin: 0; font-size: 10pt; }
.card dt { font-weight: bold; }
.card code { font-size: 11pt; word-break: break-all; }
@media print { body { margin: 0.5cm; } h1 { display: none; } }
"""


def html_page(class_cards: Sequence[Card]) -> str:
    def row(label: str, value: str) -> str:
        return f"<dt>{html.escape(label)}</dt><dd><code>{html.escape(value)}</code></dd>"

    items = []
    for card in class_cards:
        rows = [
            row("Username", card.username),
            row("Password", card.password),
            row("Your topics", _topic_line(card)),
            row("Broker", card.mqtt_url),
            row("Client id", CLIENT_ID_RULE),
            row("Dashboard", card.dashboard_url),
        ]
        if card.seed is not None:
            rows.append(row("Plant seed", str(card.seed)))
        items.append(f'<div class="card"><h2>{html.escape(card.title)}</h2><dl>{"".join(rows)}</dl></div>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>smartfactory login cards</title>'
        f"<style>{CSS}</style></head><body><h1>smartfactory classroom: login cards</h1>"
        f'<div class="cards">{"".join(items)}</div></body></html>\n'
    )


__all__ = ["Card", "cards", "html_page", "markdown"]
