"""Per-tenant settings of this module (registered into :data:`kefu.settings.SETTINGS`)."""

from __future__ import annotations

from kefu.settings import Setting

SETTINGS: tuple[Setting, ...] = ()
