"""Per-tenant settings of tickets (工单) (registered into :data:`kefu.settings.SETTINGS`)."""

from __future__ import annotations

from kefu.settings import Setting

# Minutes to the first response and to resolution, per priority (wall-clock minutes).
DEFAULT_SLA: dict[str, dict[str, int]] = {
    "P1": {"first_response": 30, "resolution": 240},
    "P2": {"first_response": 60, "resolution": 480},
    "P3": {"first_response": 240, "resolution": 1440},
    "P4": {"first_response": 480, "resolution": 4320},
}

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "tickets.routing",
        {},
        "Tickets: queue (skill group) per category, e.g. "
        '{"logistics": "shipping", "returns_refunds": "after_sales", "*": "general"}; '
        'a category not listed goes to "*", else to "general".',
        "json",
    ),
    Setting(
        "tickets.sla",
        DEFAULT_SLA,
        "Tickets: minutes to the first response and to resolution per priority "
        '({"P1": {"first_response": 30, "resolution": 240}, ...}); due times are set when a '
        "ticket opens or its priority changes; a priority not listed uses the defaults.",
        "json",
    ),
    Setting(
        "tickets.high_value_amount",
        1000.0,
        "Tickets: an order value (or an operation's amount) at or above this raises the "
        "ticket's priority by one level (0 disables).",
        "float",
        minimum=0.0,
        maximum=1e12,
    ),
    Setting(
        "tickets.webhook_url",
        "",
        "Tickets: URL that receives a JSON POST on every ticket change (created, status, "
        "comment, assigned, priority, queue, breached); empty turns webhooks off.",
        "text",
    ),
    Setting(
        "tickets.webhook_secret",
        "",
        "Tickets: when set, each webhook carries X-Kefu-Signature: sha256=<hex HMAC-SHA256 of "
        "the body with this secret>.",
        "text",
    ),
)
