"""Media file -> blocks of float samples per channel, streamed: PyAV (FFmpeg ships in its wheel).

Channels are numbered from 0 across all the file's audio streams in order (stream 0's
channels first), so a stereo WAV has channels 0-1 and an MXF with four mono streams 0-3.
Decoded frames are gathered into blocks of about BLOCK_SECONDS whose length is a multiple
of the caller's `align` samples (all but the last), so the analysis works on whole hops
and whole voice-activity frames with few numpy calls, and a 3-hour file is never held in
memory. A stream whose rate is not a multiple of 100 Hz (22050, 11025) is resampled to
FALLBACK_RATE so that a 10-ms hop is a whole number of samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.error
import numpy as np

from multitrack.errors import MediaError

BLOCK_SECONDS = 8
FALLBACK_RATE = 48000
# a stream that decodes this much shorter than its header says is truncated: AAC priming
# and MP3 padding lose a few ms, a cut-off file loses far more
TRUNCATED_TOLERANCE_SECONDS = 0.1
TRUNCATED_TOLERANCE_SHARE = 0.01

# integer sample formats -> the divisor to full scale 1.0
_INTEGER_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}
_DTYPES = {"u8": "u1", "s16": "<i2", "s32": "<i4", "s64": "<i8", "flt": "<f4", "dbl": "<f8"}


@dataclass
class _Tap:
    """One audio stream's wanted channels, gathered into aligned blocks.

    Frames go into FFmpeg's audio FIFO and come out BLOCK_SECONDS at a time: one numpy
    conversion per block instead of one per 1024-sample AAC frame (which cost as much as
    the decoding itself).
    """

    stream: av.AudioStream
    first_channel: int  # the file-wide number of this stream's channel 0
    picks: list[int]  # this stream's channel indices wanted, in output order
    rate: int
    block: int  # samples per block, a multiple of the caller's alignment
    resampler: av.AudioResampler | None
    lead: int = 0  # samples of silence before the stream's first: it starts after the file does
    started: bool = False
    fifo: av.AudioFifo = field(default_factory=av.AudioFifo)
    decoded: int = 0  # samples at `rate` handed on so far

    def add(self, frames: list) -> None:
        if self.resampler is not None:  # (a None frame flushes it)
            frames = [piece for frame in frames for piece in self.resampler.resample(frame)]
        write = self.fifo.write
        if not self.started and frames and frames[0] is not None:
            if self.lead:
                write(_silence(frames[0], self.lead))
            self.started = True
        for frame in frames:
            frame.pts = None  # the FIFO checks timestamps run on; a gap in them is not our concern
            write(frame)

    def blocks(self) -> Iterator[list[np.ndarray]]:
        while self.fifo.samples >= self.block:
            yield self._convert(self.fifo.read(self.block))

    def finish(self) -> Iterator[list[np.ndarray]]:
        if self.resampler is not None:
            self.add([None])  # flush the resampler
        yield from self.blocks()
        if self.fifo.samples:
            yield self._convert(self.fifo.read())

    @property
    def seen(self) -> int:
        """Samples at `rate` decoded so far (handed on or held)."""
        return self.decoded + self.fifo.samples

    def _convert(self, frame: av.AudioFrame | None) -> list[np.ndarray]:
        assert frame is not None  # read only when the FIFO holds samples
        self.decoded += frame.samples
        return _frame_samples(frame, self.picks)


def _silence(like: av.AudioFrame, samples: int) -> av.AudioFrame:
    """A frame of `samples` zeros in the format, layout and rate of `like`."""
    name = like.format.name
    channels = len(like.layout.channels)
    shape = (channels, samples) if like.format.is_planar else (1, samples * channels)
    zeros = np.full(shape, 128 if name.rstrip("p") == "u8" else 0, dtype=_DTYPES[name.rstrip("p")])
    frame = av.AudioFrame.from_ndarray(zeros, format=name, layout=like.layout.name)
    frame.sample_rate = like.sample_rate
    return frame


def _frame_samples(frame: av.AudioFrame, picks: list[int]) -> list[np.ndarray]:
    """float32[samples] at full scale 1.0 for each pick, from a planar or packed frame."""
    dtype = np.dtype(_DTYPES[frame.format.name.rstrip("p")])
    if frame.format.is_planar:
        planes = frame.planes
        arrays = [np.frombuffer(memoryview(planes[pick]), dtype, frame.samples) for pick in picks]
    else:  # packed: one plane, channels interleaved
        channels = len(frame.layout.channels)
        interleaved = np.frombuffer(memoryview(frame.planes[0]), dtype, frame.samples * channels)
        interleaved = interleaved.reshape(-1, channels)
        arrays = [interleaved[:, pick] for pick in picks]
    name = frame.format.name.rstrip("p")
    if name in _INTEGER_SCALE:
        offset = 128.0 if name == "u8" else 0.0
        scale = np.float32(1 / _INTEGER_SCALE[name])
        return [(array.astype(np.float32) - np.float32(offset)) * scale for array in arrays]
    # no copy: each array keeps its frame's buffer alive (read-only, as the analysis only reads)
    return [array if array.dtype == np.float32 else array.astype(np.float32) for array in arrays]


def stream_rate(rate: int) -> int:
    """The rate a stream is analysed at: its own, or FALLBACK_RATE when 10 ms is not whole samples."""
    return rate if rate % 100 == 0 else FALLBACK_RATE


def decode_channels(
    path: Path, channels: Sequence[int], align: Callable[[int], int]
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield (channel, rate, block float32[n]) for each wanted channel, in decode order.

    `align(rate)` gives the sample count every block but a channel's last is a multiple of.
    Raises MediaError naming the file when it cannot be opened, has no such channel, fails to
    decode, or decodes much shorter than its header declares (truncated).
    """
    try:
        container = av.open(str(path))
    except av.error.FileNotFoundError as error:
        raise MediaError(str(path), "no such file") from error
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        raise MediaError(str(path), f"not a media file FFmpeg can read ({_reason(error)})") from error
    with container:
        _check_pcm_header(path)
        taps = _taps(path, container, channels, align)
        try:
            yield from _demux(container, taps)
        except (av.error.FFmpegError, ValueError) as error:
            seconds = max(tap.seen / tap.rate for tap in taps)
            raise MediaError(str(path), f"corrupt audio after {seconds:.2f} s ({_reason(error)})") from error
        _check_complete(path, taps)


def _taps(path: Path, container: av.container.InputContainer, channels: Sequence[int], align) -> list[_Tap]:
    streams = list(container.streams.audio)
    if not streams:
        raise MediaError(str(path), "has no audio stream")
    total = sum(len(stream.layout.channels) or stream.channels for stream in streams)
    missing = sorted(set(c for c in channels if not 0 <= c < total))
    if missing:
        raise MediaError(str(path), f"has {total} audio channels (0-{total - 1}); channel {missing[0]} asked")
    taps, first = [], 0
    for stream in streams:
        count = len(stream.layout.channels) or stream.channels
        picks = [c - first for c in channels if first <= c < first + count]
        if picks:
            rate = stream_rate(stream.rate)
            resampler = None
            if rate != stream.rate:
                resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=rate)
            block = BLOCK_SECONDS * rate // align(rate) * align(rate)
            taps.append(_Tap(stream, first, picks, rate, block, resampler, lead=_lead(container, stream, rate)))
        first += count
    return taps


def _lead(container: av.container.InputContainer, stream: av.AudioStream, rate: int) -> int:
    """Samples between the file's start (its earliest stream) and this stream's first sample.

    Hop 0 is the file's time 0, the origin of the xmeml's in points: a camera file whose
    sound starts 0.5 s after its picture gets 0.5 s of silence first.
    """
    if stream.start_time is None or stream.time_base is None or container.start_time is None:
        return 0
    lead = stream.start_time * stream.time_base - Fraction(container.start_time, av.time_base)
    return max(0, round(lead * rate))


def _demux(container: av.container.InputContainer, taps: list[_Tap]) -> Iterator[tuple[int, int, np.ndarray]]:
    # the loop runs once per packet (1024 samples of AAC, 170,000 an hour): kept to a few calls
    if len(taps) == 1 and taps[0].resampler is None and not taps[0].lead:
        yield from _demux_one(container, taps[0])
        return
    by_stream = {tap.stream.index: tap for tap in taps}
    for packet in container.demux(*[tap.stream for tap in taps]):
        tap = by_stream[packet.stream.index]  # (not .stream_index: 0 on the flush packets at the end)
        tap.add(packet.decode())
        if tap.fifo.samples >= tap.block:
            for block in tap.blocks():
                yield from _split(tap, block)
    for tap in taps:
        for block in tap.finish():
            yield from _split(tap, block)


def _demux_one(container: av.container.InputContainer, tap: _Tap) -> Iterator[tuple[int, int, np.ndarray]]:
    """The common case, one stream at its own rate, with the per-packet work inlined."""
    fifo, write, block = tap.fifo, tap.fifo.write, tap.block
    for packet in container.demux(tap.stream):
        for frame in packet.decode():
            frame.pts = None  # as _Tap.add
            write(frame)  # type: ignore[arg-type]  # demuxed from an audio stream: audio frames
        if fifo.samples >= block:
            for samples in tap.blocks():
                yield from _split(tap, samples)
    for samples in tap.finish():
        yield from _split(tap, samples)


def _split(tap: _Tap, block: list[np.ndarray]) -> Iterator[tuple[int, int, np.ndarray]]:
    for pick, samples in zip(tap.picks, block, strict=True):
        yield tap.first_channel + pick, tap.rate, samples


def _check_complete(path: Path, taps: list[_Tap]) -> None:
    for tap in taps:
        stream = tap.stream
        if stream.duration is None or stream.time_base is None:
            continue
        declared = float(stream.duration * stream.time_base)
        decoded = (tap.decoded - tap.lead) / tap.rate
        if decoded < declared - max(TRUNCATED_TOLERANCE_SECONDS, TRUNCATED_TOLERANCE_SHARE * declared):
            raise MediaError(
                str(path),
                f"truncated: audio stream {stream.index} decoded {decoded:.2f} s of the {declared:.2f} s "
                "its header declares",
            )


def _reason(error: Exception) -> str:
    """FFmpeg's words without the path PyAV appends (the MediaError names the file once)."""
    strerror = getattr(error, "strerror", None)
    return str(strerror) if strerror else str(error)


def _check_pcm_header(path: Path) -> None:
    """Raise MediaError when a WAV or AIFF's sample chunk runs past the end of the file.

    FFmpeg's WAV and AIFF readers clamp the duration to what the file holds, so a cut-off
    recording would decode as a shorter, whole one; the chunk header still says how long it was.
    """
    try:
        with open(path, "rb") as file:
            size = file.seek(0, 2)
            file.seek(0)
            head = file.read(12)
            if head[:4] in (b"RIFF", b"FORM") and head[8:12] in (b"WAVE", b"AIFF", b"AIFC"):
                end = _sample_chunk_end(file, little=head[:4] == b"RIFF")
            else:
                return
    except OSError:
        return
    if end is not None and end > size:
        raise MediaError(
            str(path), f"truncated: its header declares audio up to byte {end} but the file has {size} bytes"
        )


def _sample_chunk_end(file, little: bool) -> int | None:
    """The byte offset where the `data`/`SSND` chunk ends, as its header declares."""
    order: Literal["little", "big"] = "little" if little else "big"
    at = 12
    while True:
        file.seek(at)
        header = file.read(8)
        if len(header) < 8:
            return None
        length = int.from_bytes(header[4:8], order)
        if header[:4] in (b"data", b"SSND"):
            # 0xFFFFFFFF: RF64 or a stream still being written, the length is elsewhere or unknown
            return None if length == 0xFFFFFFFF else at + 8 + length
        at += 8 + length + (length & 1)
