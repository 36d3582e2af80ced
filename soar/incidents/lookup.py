"""Finding a containment action of an incident from what a person typed: its id, a unique prefix, or its kind."""

from __future__ import annotations

from collections.abc import Sequence

from soar.errors import InputError
from soar.response.models import ActionStatus


def resolve_action(actions: Sequence[ActionStatus], ref: str) -> ActionStatus:
    """The one action ``ref`` names: an exact action id, a unique id prefix, or a kind only one action has.

    Raises:
        InputError: nothing or more than one action matches (the message lists the candidates).
    """
    text = ref.strip()
    exact = [a for a in actions if a.action_id == text]
    if exact:
        return exact[0]
    for matches in (
        [a for a in actions if a.action_id.startswith(text)],
        [a for a in actions if a.kind == text],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(sorted(a.action_id for a in matches))
            raise InputError(f"names {len(matches)} actions ({ids}): give more of the id", field="ACTION")
    known = ", ".join(sorted(a.action_id for a in actions)) or "none"
    raise InputError(f"no action {text!r} in this incident (actions: {known})", field="ACTION")
