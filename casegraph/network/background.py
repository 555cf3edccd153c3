"""Run one computation in a forked process while this one goes on: python-igraph holds the GIL, so Leiden on
ten million ties would otherwise stop the group-tie test and betweenness for a minute or more. The child
only computes on memory it inherited and sends its result back through a pipe; it touches no store."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from typing import Any


def start(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """Start fn(*args) in a forked child; returns a function that waits for its result. Where the platform
    cannot fork, fn runs here and now."""
    if "fork" not in mp.get_all_start_methods():
        result = fn(*args)
        return lambda: result
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
    child.start()
    send.close()

    def wait() -> Any:
        try:
            ok, value = receive.recv()  # before join: a result larger than the pipe's buffer blocks the child
        except EOFError as exc:
            raise RuntimeError(f"background computation died (exit code {child.exitcode})") from exc
        finally:
            child.join()
            receive.close()
        if not ok:
            raise RuntimeError(f"background computation failed: {value}")
        return value

    return wait


def _child(send: Any, fn: Callable[..., Any], args: tuple) -> None:
    try:
        send.send((True, fn(*args)))
    except BaseException as exc:  # the parent re-raises it
        send.send((False, repr(exc)))
    finally:
        send.close()
