"""The conversation's items through the GA client events the SDK offers: ``conversation.item.
retrieve`` gives the server's copy, ``conversation.item.delete`` removes it (a later truncate or
retrieve of it is ``item_not_found``), each answer shaped as the SDK's model."""

from __future__ import annotations

from tests.mocks.realtime.realtime_helpers import MANUAL_TURNS, Driver, check_sdk_shape

USER_TEXT = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "Is there a slot tomorrow?"}],
}


def test_retrieve_then_delete_an_item() -> None:
    d = Driver()
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "conversation.item.create", "item": {**USER_TEXT, "id": "item_mine"}})
    d.send({"type": "conversation.item.retrieve", "item_id": "item_mine"})
    (retrieved,) = d.events("conversation.item.retrieved")
    check_sdk_shape(retrieved)
    assert retrieved["item"]["content"] == USER_TEXT["content"]
    d.send({"type": "conversation.item.delete", "item_id": "item_mine"})
    (deleted,) = d.events("conversation.item.deleted")
    check_sdk_shape(deleted)
    assert deleted["item_id"] == "item_mine"
    d.send({"type": "conversation.item.retrieve", "item_id": "item_mine"})
    assert d.events("error")[-1]["error"]["code"] == "item_not_found"


def test_an_assistant_item_can_be_retrieved_and_deleted() -> None:
    d = Driver()
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.run_idle()
    item_id = d.events("response.output_item.done")[0]["item"]["id"]
    d.send({"type": "conversation.item.retrieve", "item_id": item_id})
    assert d.events("conversation.item.retrieved")[0]["item"]["role"] == "assistant"
    d.send({"type": "conversation.item.delete", "item_id": item_id})
    truncate = {"item_id": item_id, "content_index": 0, "audio_end_ms": 10}
    d.send({"type": "conversation.item.truncate", **truncate})
    assert d.events("error")[-1]["error"]["code"] == "item_not_found"
