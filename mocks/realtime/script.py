"""The deterministic response script: which reply a ``response.create`` gets, from what the
conversation holds so far (no randomness: the same turns always get the same replies).

- no new user input since the previous response → a spoken greeting (greeting_ms of audio);
- a ``function_call_output`` item since → a spoken answer;
- user input, tools declared, no function call yet → ``check_availability``;
- the second user turn with tools declared → ``book_appointment``;
- anything else → a spoken answer (answer_ms of audio).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass


class ReplyKind(enum.Enum):
    GREETING = "greeting"
    ANSWER = "answer"
    FUNCTION_CALL = "function_call"


@dataclass(frozen=True)
class ScriptConfig:
    greeting_ms: int = 1000
    answer_ms: int = 1500
    chunk_ms: int = 50

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be positive"
            for name in ("greeting_ms", "answer_ms", "chunk_ms")
            if getattr(self, name) <= 0
        ]
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    audio_ms: int = 0
    transcript: str = ""
    function_name: str = ""
    arguments: str = ""


GREETING = "Hello, thanks for calling. How can I help you today?"
ANSWER = "Sure, I can help with that. Is there anything else I can do for you?"
TOOL_ANSWER = "Good news, that slot is available. Shall I go ahead and book it for you?"
CHECK_ARGS = {"date": "2030-01-15", "service": "haircut"}
BOOK_ARGS = {"customer_phone": "+15550100123", "date": "2030-01-15", "time": "10:00"}


class Script:
    """One session's place in the script; fed what the client adds to the conversation."""

    def __init__(self, config: ScriptConfig) -> None:
        self.config = config
        self._new_user_input = False
        self._tool_output = False
        self._user_turns = 0
        self._calls_made = 0

    def user_input(self) -> None:
        self._new_user_input = True

    def tool_output(self) -> None:
        self._tool_output = True

    def next_reply(self, tool_names: frozenset[str]) -> Reply:
        config = self.config
        if self._tool_output:
            self._tool_output = False
            self._new_user_input = False
            return Reply(ReplyKind.ANSWER, config.answer_ms, TOOL_ANSWER)
        if not self._new_user_input:
            return Reply(ReplyKind.GREETING, config.greeting_ms, GREETING)
        self._new_user_input = False
        self._user_turns += 1
        if self._calls_made == 0 and "check_availability" in tool_names:
            return self._call("check_availability", CHECK_ARGS)
        if self._user_turns == 2 and "book_appointment" in tool_names:
            return self._call("book_appointment", BOOK_ARGS)
        return Reply(ReplyKind.ANSWER, config.answer_ms, ANSWER)

    def _call(self, name: str, arguments: dict[str, str]) -> Reply:
        self._calls_made += 1
        return Reply(ReplyKind.FUNCTION_CALL, function_name=name, arguments=json.dumps(arguments))
