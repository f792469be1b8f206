"""ONNX Runtime sessions with an explicit execution provider, and a dynamic micro-batcher.

Provider choice (https://onnxruntime.ai/docs/execution-providers/): CUDA when the installed wheel offers
``CUDAExecutionProvider`` (the ``gpu`` extra, ``onnxruntime-gpu``) and the session really runs on it; CPU
otherwise. With ``require_gpu`` a missing CUDA provider, or a session that fell back to CPU, fails at
start-up instead of silently serving from the CPU. Thread counts are set explicitly
(https://onnxruntime.ai/docs/performance/tune-performance/threading.html).

The micro-batcher collects requests for one model until ``max_batch`` rows are queued or the oldest
request has waited ``max_delay_s``, runs them as one batch, and splits the outputs back (the dynamic
batching scheme of Triton's ``max_queue_delay_microseconds``). The delay is only spent under
concurrency: when the previous batch held a single request and nothing else is queued, a request is
served at once, so an idle model answers with bare-session latency. Within the delay, collection also
stops once no new request has arrived for ``idle_gap_s``: closed-loop callers that have all submitted
are not kept waiting for a batch that cannot fill. It is thread-based so that synchronous
callers (``suggest``) and asyncio handlers (``asyncio.wrap_future``) share the same queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
Outputs = list[NDArray[Any]]


class GpuUnavailableError(RuntimeError):
    """``require_gpu`` was set but ONNX Runtime cannot run on a CUDA GPU here.

    Install the ``gpu`` extra (``onnxruntime-gpu``) in an environment *without* the ``cpu`` extra, on a host
    with an NVIDIA GPU and matching CUDA/cuDNN libraries, or start without ``--require-gpu``.
    """


def select_providers(require_gpu: bool, available: Sequence[str] | None = None) -> list[str]:
    """Providers in priority order; raise :class:`GpuUnavailableError` if a GPU is required but absent."""
    offered = list(ort.get_available_providers() if available is None else available)
    if CUDA in offered:
        return [CUDA, CPU]
    if require_gpu:
        raise GpuUnavailableError(
            f"--require-gpu: onnxruntime {ort.__version__} offers {offered}, no {CUDA}. "
            "Install the 'gpu' extra "
            "(onnxruntime-gpu) instead of 'cpu' on a host with an NVIDIA GPU, or drop --require-gpu."
        )
    return [CPU]


def session_options(intra_op_threads: int) -> ort.SessionOptions:
    """Sequential execution, full graph optimisation, explicit intra-/inter-op thread counts."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


def build_session(
    model_bytes: bytes, providers: list[str], require_gpu: bool, intra_op_threads: int
) -> ort.InferenceSession:
    """One session; verifies it actually runs on CUDA when a GPU is required.

    Providers the installed wheel does not offer are dropped first (ONNX Runtime would only warn and
    fall back); a required CUDA provider that is missing, or that the session did not take, is an error.
    """
    offered = set(ort.get_available_providers())
    usable = [p for p in providers if p in offered]
    if require_gpu and CUDA not in usable:
        raise GpuUnavailableError(f"--require-gpu: {CUDA} is not offered by this onnxruntime; install the 'gpu' extra")
    session = ort.InferenceSession(model_bytes, sess_options=session_options(intra_op_threads), providers=usable)
    if require_gpu and session.get_providers()[0] != CUDA:
        raise GpuUnavailableError(
            f"--require-gpu: the session fell back to {session.get_providers()[0]}; "
            "check the NVIDIA driver and CUDA/cuDNN libraries onnxruntime-gpu needs"
        )
    return session


@dataclass
class _Request:
    x: NDArray[Any]
    future: Future[Outputs]
    enqueued: float


BatchObserver = Callable[[int, float], None]


class MicroBatcher:
    """Dynamic batching for one session (see the module docstring)."""

    def __init__(
        self,
        run: Callable[[NDArray[Any]], Outputs],
        max_batch: int,
        max_delay_s: float,
        observe: BatchObserver,
        name: str,
        idle_gap_s: float = 0.0002,
    ) -> None:
        self._run, self._max_batch, self._max_delay, self._gap = run, max_batch, max_delay_s, idle_gap_s
        self._observe = observe
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._closed = False
        self._concurrent = False
        self._thread.start()

    def submit(self, x: NDArray[Any]) -> Future[Outputs]:
        """Queue ``x`` (rows on axis 0); the future resolves to this request's rows of every output."""
        if self._closed:
            raise RuntimeError("the inference service is closed")
        fut: Future[Outputs] = Future()
        self._queue.put(_Request(x, fut, time.monotonic()))
        return fut

    def close(self) -> None:
        """Stop after the queued requests are served."""
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, rows, stop = [first], len(first.x), False
        deadline = first.enqueued + (self._max_delay if self._concurrent else 0.0)
        while rows < self._max_batch:
            try:
                item = self._queue.get(timeout=max(min(deadline - time.monotonic(), self._gap), 0.0))
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            batch.append(item)
            rows += len(item.x)
        return batch, stop

    def _loop(self) -> None:
        while (first := self._queue.get()) is not None:
            batch, stop = self._collect(first)
            self._concurrent = len(batch) > 1 or not self._queue.empty()
            self._serve(batch)
            if stop:
                break

    def _serve(self, batch: list[_Request]) -> None:
        self._observe(sum(len(r.x) for r in batch), time.monotonic() - batch[0].enqueued)
        try:
            outputs = self._run(np.concatenate([r.x for r in batch]))
        except Exception as exc:
            for r in batch:
                r.future.set_exception(exc)
            return
        start = 0
        for r in batch:
            end = start + len(r.x)
            r.future.set_result([o[start:end] for o in outputs])
            start = end
