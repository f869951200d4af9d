"""Record every message of a running plant and replay it later: `smartfactory record` / `smartfactory replay`.

- `format`: the file format, version 1 (frames with a CRC-32 each, messages in zlib-compressed blocks);
  docs/recording.md is its specification.
- `writer.RecordingWriter`: append messages, flush blocks, close with an end frame.
- `reader.open_recording` → `Recording`: scans and checks the file, names each damaged place by its byte offset,
  counts what was skipped; `.messages()` yields the intact ones.
- `recorder.Recorder`: subscribes (MQTT 5, Retain As Published) and writes what arrives, with its timing.
- `replayer.replay`: publishes a recording again, in order, at a chosen speed.
- `truth.truth_events`: the ground truth (the simulator's fault and repair events) in a recording.

MQTT goes through `smartfactory.edge.mqtt` only.
"""

from smartfactory.recording.format import FORMAT_NAME, FORMAT_VERSION, RecordedMessage, RecordingError
from smartfactory.recording.reader import Problem, Recording, open_recording
from smartfactory.recording.writer import RecordingWriter

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Problem",
    "RecordedMessage",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "open_recording",
]
