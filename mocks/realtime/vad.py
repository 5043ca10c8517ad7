"""Server VAD on the audio's own timeline: speech starts when a 20 ms frame's level crosses the
threshold and stops after ``silence_duration_ms`` of audio below it (semantic VAD: after its
eagerness's bound). Time is the position in the audio received, not the wall clock, so the same
audio always gives the same events; ``prefix_padding_ms`` moves the reported start earlier."""

from __future__ import annotations

from dataclasses import dataclass

from mocks.realtime.session_config import VadSettings
from mocks.realtime.speech import AudioFormat, rms

FRAME_MS = 20
FULL_SCALE_AT_THRESHOLD_1 = 0.06  # threshold 0.5 → RMS 3 % of full scale (about -30 dBFS)


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int


VadEvent = SpeechStarted | SpeechStopped


class ServerVad:
    def __init__(self, settings: VadSettings, fmt: AudioFormat) -> None:
        self.settings = settings
        self.fmt = fmt
        self._frame_bytes = fmt.bytes_for_ms(FRAME_MS)
        self._level = settings.threshold * FULL_SCALE_AT_THRESHOLD_1
        self._pending = b""
        self.position_ms = 0
        self.speaking = False
        self._silence_ms = 0

    def feed(self, data: bytes) -> list[VadEvent]:
        events: list[VadEvent] = []
        buffer = self._pending + data
        frames = len(buffer) // self._frame_bytes
        for i in range(frames):
            frame = buffer[i * self._frame_bytes : (i + 1) * self._frame_bytes]
            loud = rms(frame, self.fmt) >= self._level
            self.position_ms += FRAME_MS
            if loud:
                self._silence_ms = 0
                if not self.speaking:
                    self.speaking = True
                    start = self.position_ms - FRAME_MS - self.settings.prefix_padding_ms
                    events.append(SpeechStarted(max(0, start)))
            elif self.speaking:
                self._silence_ms += FRAME_MS
                if self._silence_ms >= self.settings.end_of_turn_silence_ms:
                    self.speaking = False
                    self._silence_ms = 0
                    events.append(SpeechStopped(self.position_ms))
        self._pending = buffer[frames * self._frame_bytes :]
        return events

    def reset(self) -> None:
        self._pending = b""
        self.speaking = False
        self._silence_ms = 0
