"""The conversation as the fake tracks it: its items by id (truncate, delete and retrieve name
one), the last item (each new item's ``previous_item_id``), and how much audio each assistant item
holds (a truncate may not cut beyond it). Client-created items are validated here; the events
that announce an item come out in the session's protocol (GA adds ``conversation.item.added`` and
``conversation.item.done``). Each ``conversation.item.*`` client event gets its answer events.
"""

from __future__ import annotations

from typing import Any

from mocks.realtime.client_events import BadEvent, field_of
from mocks.realtime.events import Event, EventFactory
from mocks.realtime.script import Script


class Conversation:
    def __init__(self, factory: EventFactory, script: Script) -> None:
        self._f = factory
        self._script = script
        self.conversation_id = factory.new_id("conv")
        self.last_item: str | None = None
        self._items: dict[str, dict[str, Any]] = {}
        self._audio_ms: dict[str, int] = {}

    def add(self, item: dict[str, Any]) -> list[Event]:
        """The events announcing ``item``, now the last of the conversation."""
        previous, self.last_item = self.last_item, str(item["id"])
        self._items[self.last_item] = item
        f = self._f
        names = ["conversation.item.created", "conversation.item.added", "conversation.item.done"]
        return [
            f.make(name, previous_item_id=previous, item=item) for name in names if f.applies(name)
        ]

    def assistant_item(self, item: dict[str, Any], audio_ms: int) -> None:
        """A response's output item, announced by the response's own events."""
        self._items[str(item["id"])] = item
        self._audio_ms[str(item["id"])] = audio_ms

    def create(self, event: dict[str, Any]) -> list[Event]:
        """``conversation.item.create``: the item validated, fed to the script and added."""
        item = dict(field_of(event, "item", dict))
        kind = item.get("type")
        if kind == "function_call_output":
            field_of(item, "call_id", str, "item.call_id")
            field_of(item, "output", str, "item.output")
            self._script.tool_output()
        elif kind == "message":
            role = field_of(item, "role", str, "item.role")
            if role not in ("user", "assistant", "system"):
                raise BadEvent("invalid_value", f"Invalid value: '{role[:50]}'.", "item.role")
            field_of(item, "content", list, "item.content")
            if role == "user":
                self._script.user_input()
        elif kind != "function_call":
            raise BadEvent("invalid_value", f"Invalid item type: {kind!r}.", "item.type")
        item.setdefault("id", self._f.new_id("item"))
        item.update(object="realtime.item", status="completed")
        return self.add(item)

    def delete(self, event: dict[str, Any]) -> list[Event]:
        item_id = self._known(event)
        del self._items[item_id]
        self._audio_ms.pop(item_id, None)
        return [self._f.make("conversation.item.deleted", item_id=item_id)]

    def retrieve(self, event: dict[str, Any]) -> list[Event]:
        return [self._f.make("conversation.item.retrieved", item=self._items[self._known(event)])]

    def _known(self, event: dict[str, Any]) -> str:
        item_id: str = field_of(event, "item_id", str)
        if item_id not in self._items:
            raise BadEvent("item_not_found", f"Item with id '{item_id[:64]}' not found.", "item_id")
        return item_id

    def truncate(self, event: dict[str, Any]) -> list[Event]:
        """``conversation.item.truncate``: the assistant's audio cut at ``audio_end_ms`` (what the
        caller really heard), answered by ``conversation.item.truncated``."""
        item_id = self._known(event)
        content_index = field_of(event, "content_index", int)
        audio_end_ms = field_of(event, "audio_end_ms", int)
        if audio_end_ms < 0:
            raise BadEvent("invalid_value", "'audio_end_ms' must not be negative.", "audio_end_ms")
        held = self._audio_ms.get(item_id)
        if held is not None and audio_end_ms > held:
            message = f"Audio content of {held}ms is already shorter than {audio_end_ms}ms"
            raise BadEvent("invalid_value", message, "audio_end_ms")
        if held is not None:
            self._audio_ms[item_id] = audio_end_ms
        truncated = self._f.make(
            "conversation.item.truncated",
            item_id=item_id,
            content_index=content_index,
            audio_end_ms=audio_end_ms,
        )
        return [truncated]
