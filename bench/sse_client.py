"""The SSE benchmark's subscribers, spread over several client processes.

bench_api's SSE case follows one run with 200 or 1,000 streams. One asyncio
client process reading 1,000 streams line by line spends about as much CPU per
frame as the API spends writing it, and the last of its streams is read only
after the other 999: that is the client's latency, not the server's. So the
streams are shared out over a few processes (BENCH_SSE_CLIENTS), each a uvloop
loop whose streams are plain asyncio Protocols: a read is timed when it arrives
(time.time(), the producer's clock) and only the "sentAt" number of each frame
is parsed, not its JSON. Each process sends its latencies and the CPU seconds
it spent from its last stream open to its last frame back to the bench.

Latency here is journal append -> frame bytes read by the client; several frames
in one read are all timed at that read (a little late, never early).
"""

from __future__ import annotations

import array
import asyncio
import gc
import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any, cast

import uvloop

SENT_AT = b'"sentAt":'
FINAL = b"event: RUN_COMPLETED"
BATCH = 50  # stream opens in flight at once, over all processes (the auth check's pool)


class Stream(asyncio.Protocol):
    """One SSE stream: the request, the status line, then a latency per
    FILE_CREATED frame until the run's final event (whose own frame is not timed,
    as before)."""

    def __init__(self, request: bytes, latencies: array.array[float]) -> None:
        self.request = request
        self.latencies = latencies
        self.buffer = b""
        self.status: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data
        if not self.status.done():
            end = buffer.find(b"\r\n")
            if end < 0:
                self.buffer = buffer
                return
            self.status.set_result(buffer[:end])
            buffer = buffer[end + 2 :]
        if self.done.done():
            return
        start = 0
        while (mark := buffer.find(SENT_AT, start)) >= 0:
            end = buffer.find(b"}", mark)
            if end < 0:
                break
            if buffer.find(FINAL, start, mark) >= 0:
                self._finish()
                return
            self.latencies.append((now - float(buffer[mark + len(SENT_AT) : end])) * 1000)
            start = end
        if buffer.find(FINAL, start) >= 0:
            self._finish()
            return
        # Keep only what a frame split across reads still needs.
        self.buffer = buffer[start:]

    def _finish(self) -> None:
        self.buffer = b""
        self.done.set_result(None)
        assert self.transport is not None
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_exception(ConnectionError("closed before the status line"))
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"stream closed early: {exc}"))


async def open_stream(
    host: str, port: int, request: bytes, latencies: array.array[float]
) -> tuple[Stream, int]:
    """(stream, opens refused): a 503 (the auth check's pool busy) is retried, as clients do."""
    loop = asyncio.get_running_loop()
    refused = 0
    while True:
        _, stream = await loop.create_connection(lambda: Stream(request, latencies), host, port)
        status = await stream.status
        if b" 200 " in status:
            return stream, refused
        assert b" 503 " in status, status
        refused += 1
        assert stream.transport is not None
        stream.transport.close()
        await asyncio.sleep(0.2)


async def follow(
    host: str, port: int, request: bytes, count: int, batch: int, ready: Connection
) -> tuple[array.array[float], float, int]:
    latencies: array.array[float] = array.array("d")
    streams: list[Stream] = []
    refused = 0
    # Opened in batches, each waited for: clients arrive over a moment, not in one
    # millisecond (1,000 at once would queue on the auth check's connection pool).
    for start in range(0, count, batch):
        opened = await asyncio.gather(
            *(open_stream(host, port, request, latencies) for _ in range(min(batch, count - start)))
        )
        streams += [stream for stream, _ in opened]
        refused += sum(retries for _, retries in opened)
    # The client is the measuring instrument: a collection of its own while frames
    # arrive would count as delivery latency (gen1/gen2 pauses of 25-37 ms were
    # measured in these processes). Its streams live to the end: frozen, and no
    # collection until the last frame (a second or two of frames, no cycles).
    gc.collect()
    gc.freeze()
    gc.disable()
    ready.send(("ready", refused))
    cpu = time.process_time()
    try:
        await asyncio.gather(*(stream.done for stream in streams))
    finally:
        gc.enable()
    return latencies, time.process_time() - cpu, refused


def subscriber_process(
    host: str, port: int, request: bytes, count: int, batch: int, out: Connection
) -> None:
    latencies, cpu, _ = uvloop.run(follow(host, port, request, count, batch, out))
    out.send(("done", latencies.tobytes(), cpu))
    out.close()


class Subscribers:
    """`subscribers` streams of one SSE request over `processes` client processes."""

    def __init__(
        self, host: str, port: int, request: bytes, subscribers: int, processes: int
    ) -> None:
        context = multiprocessing.get_context("spawn")  # the bench holds threads: no fork
        processes = max(1, min(processes, subscribers))
        batch = max(1, BATCH // processes)
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for number in range(processes):
            count = subscribers // processes + (number < subscribers % processes)
            parent, child = context.Pipe()
            proc = context.Process(
                target=subscriber_process,
                args=(host, port, request, count, batch, child),
                daemon=True,
            )
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(proc)

    def wait_ready(self) -> int:
        """Blocks until every stream is open; how many opens were refused (503)."""
        refused = 0
        for pipe in self.pipes:
            kind, retries = pipe.recv()
            assert kind == "ready", kind
            refused += retries
        return refused

    def results(self) -> tuple[list[float], float]:
        """Blocks until every stream saw the final event: (latencies ms, the client
        processes' CPU seconds from their last open to their last frame)."""
        latencies: list[float] = []
        cpu = 0.0
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            kind, raw, spent = pipe.recv()
            assert kind == "done", kind
            values: array.array[float] = array.array("d")
            values.frombytes(raw)
            latencies += values
            cpu += spent
            proc.join(10)
        return latencies, cpu
