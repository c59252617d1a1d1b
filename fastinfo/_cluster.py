"""``fastinfo score --dask`` and ``--scheduler ADDRESS``: one run's rows as tasks on a Dask
cluster (``distributed``, the ``dask`` extra).

The rows are split where the input splits: one task a file of a pattern
(``'shards/*.parquet'``), one a row group of a single Parquet file (a record batch of an
Arrow file), slabs of about TASK_BYTES (or of --chunk-rows) of a single .npy or container
array. Each task opens its own rows of every operand (the workers read the files, so they
must see the same paths; each checks that a file is the one the command saw), scores them
exactly as the single-process run does and sends back the results and the summary's
partial sums. The command writes the results in order of rows into the one output (or one
output a file), atomically, as ever; a task's results wait only until the rows before them
are written. A worker lost mid-run loses only its tasks, which the scheduler runs again on
another worker. Signals take effect between the cluster's steps, never inside its code.
"""
import contextlib
import os

import numpy as np

from ._cli import _SIGNALS, RunError, UsageError, _chunks, _open, _prepare, _Stats
from . import _tables
from ._stores import Concat, NpzStream, Window, split

TASK_BYTES = 256 << 20       # a task of a single .npy or container array: about this much input


def _distributed(how):
    try:
        import distributed
    except ImportError:
        raise UsageError(f"{how} runs on a Dask cluster and needs distributed: pip install 'fastinfo[dask]'") from None
    return distributed


def _bounds(J, chunk_rows):
    """The first row of each task, and the row count."""
    X = J.X
    if isinstance(X, Concat):
        starts = X.starts
    elif J.table:
        starts = X.group_starts()
    else:                               # --chunk-rows, when given, is a task's rows too
        step = chunk_rows or max(J.chunk, TASK_BYTES // max(1, J.row_bytes))
        starts = list(range(0, J.N, step)) + [J.N]
    bounds = sorted(set(starts))
    return bounds if bounds[-1] == J.N else bounds + [J.N]


def _narrow(R, lo, hi):
    """The files of an operand holding rows lo:hi, and the row of the first at which lo is. A
    file: (its name as given here, its absolute path: a worker has a working directory of its
    own, what it is now: the worker checks that it reads the same)."""
    readers, start = [R], lo
    if isinstance(R, Concat):
        j0 = int(np.searchsorted(R.starts, lo, side="right")) - 1
        j1 = max(j0 + 1, int(np.searchsorted(R.starts, hi, side="left")))
        readers, start = R.readers[j0:j1], lo - R.starts[j0]
    return [(r.path, os.path.abspath(r.path), _identity(r.path)) for r in readers], start


def _identity(spec):
    """Size and modification time of the file (or store) an operand is read from."""
    st = os.stat(split(spec)[0])
    return st.st_size, st.st_mtime_ns


def _compressed(R):
    """A compressed .npz member (read front to back only) among an operand's files."""
    return any(isinstance(r, NpzStream) for r in getattr(R, "readers", [R]))


def _task(args, narrow, lo, hi):
    """On a worker: rows lo:hi of the run, scored; (results, kept columns, _Stats)."""
    def opener(spec, what, column=None, role="rows"):
        paths, start = narrow[what]
        with contextlib.ExitStack() as stack:
            readers = []
            for shown, path, identity in paths:
                try:
                    same = _identity(path) == identity
                except OSError:
                    same = False
                if not same:
                    raise RunError(f"{what} {shown}: not the file the run began with (changed since, or this "
                                   f"worker sees another copy); no output written")
                readers.append(stack.enter_context(_open(path, what, column, role)))
                readers[-1].path = shown            # errors name the files as the command line did
            R = readers[0] if len(readers) == 1 else Concat(readers, what, spec)
            if what == "input" and narrow.get("input starts") is not None:
                R._starts = narrow["input starts"]      # the row groups as counted by the command
            stack.pop_all()
        return R if start is None else Window(R, start, start + hi - lo)

    stats = _Stats(report=getattr(args, "report", False))
    with contextlib.ExitStack() as files:
        J = _prepare(args, files, opener)
        parts = list(_chunks(J, args, stats))
    if not parts:
        return None, [], stats
    r = parts[0][2] if len(parts) == 1 else np.concatenate([p[2] for p in parts])
    kept = []
    for i in range(len(J.keep)):
        cols = [p[3][i] for p in parts]
        kept.append(cols[0] if len(cols) == 1 else J.X.pa.concat_arrays(cols))
    return r, kept, stats


def _probe(address):
    """Fail at once when nothing listens at a tcp:// address (the client would retry for its
    whole connect timeout)."""
    import socket
    from urllib.parse import urlsplit
    u = urlsplit(address if "://" in address else "tcp://" + address)
    if u.scheme != "tcp" or u.hostname is None or u.port is None:
        return
    try:
        socket.create_connection((u.hostname, u.port), timeout=10).close()
    except OSError as e:
        raise UsageError(f"--scheduler {address}: cannot connect ({e.strerror or e}); is a Dask scheduler "
                         f"running there (dask scheduler)?") from None


def _client(args, stack):
    distributed = _distributed("--scheduler" if args.scheduler else "--dask")
    import logging
    if args.scheduler is not None:
        _probe(args.scheduler)
        try:
            return stack.enter_context(distributed.Client(args.scheduler, timeout="20s"))
        except (OSError, TimeoutError, ValueError) as e:
            raise UsageError(f"--scheduler {args.scheduler}: cannot connect ({type(e).__name__}: {e})") from None
    workers = args.workers or _tables.cores()
    cluster = stack.enter_context(distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.ERROR))
    return stack.enter_context(distributed.Client(cluster))


def scored(args, J, stats):
    """The run's (lo, hi, results, kept columns) a task at a time in order of rows, computed on
    the cluster; each task's partial sums merged into stats."""
    how = "--scheduler" if args.scheduler else "--dask"
    if J.squeeze or J.b0 != 0:
        raise UsageError(f"{how} splits the input by rows, so its rows must lead (a 2-D or more input, "
                         f"--axis other than 0)")
    for R in (J.X, J.Q):
        if R is not None and _compressed(R):
            raise UsageError(f"{how}: {R.what} {R.path} holds a compressed .npz member, which is read front to "
                             f"back only; score it without a cluster, or store it uncompressed (np.savez)")
    bounds = _bounds(J, args.chunk_rows)
    import copy
    args = copy.copy(args)                  # a --q or --targets table is read at the column found here
    args.operand_column = J.Q.column if J.Q is not None and J.qkind == "same" and J.table else None
    stack = contextlib.ExitStack()
    futures = []
    try:
        # Ctrl-C, SIGTERM, SIGHUP take effect between the cluster's steps, never inside
        # distributed's own code (a KeyboardInterrupt there can be swallowed or leave it broken)
        with _SIGNALS.defer():
            client = _client(args, stack)
            distributed = _distributed(how)
            operands = {"input": J.X}
            if J.Q is not None and not (J.qkind == "labels" and args.labels is None):
                operands[J.Q.what] = J.Q            # (labels from a column of the input come with it)
            for lo, hi in zip(bounds, bounds[1:]):
                narrow = {w: (_narrow(R, 0, R.shape[0])[0], None) if J.qkind == "ref" and w == "--q" else
                          _narrow(R, lo, hi) for w, R in operands.items()}
                narrow["input starts"] = J.X.group_starts() if J.table and not isinstance(J.X, Concat) else None
                futures.append(client.submit(_task, args, narrow, lo, hi, pure=False))
        index = {f.key: i for i, f in enumerate(futures)}
        waiting, done, nxt = set(futures), {}, 0
        while nxt < len(futures):
            if nxt not in done:
                with _SIGNALS.defer():
                    try:
                        finished, _ = distributed.wait(list(waiting), timeout=0.25, return_when="FIRST_COMPLETED")
                    except TimeoutError:
                        finished = ()
                for fut in finished:
                    waiting.discard(fut)
                    done[index[fut.key]] = fut
            while nxt in done:
                try:
                    with _SIGNALS.defer():
                        r, kept, part = done.pop(nxt).result()
                except distributed.KilledWorker as e:
                    raise RunError(f"rows {bounds[nxt]}..{bounds[nxt + 1] - 1}: the workers running them "
                                   f"died ({e}); no output written") from None
                except (UsageError, RunError):
                    raise
                except Exception as e:                      # the scheduler lost, a task cancelled
                    raise RunError(f"rows {bounds[nxt]}..{bounds[nxt + 1] - 1}: the cluster failed "
                                   f"({type(e).__name__}: {e}); no output written") from None
                if r is not None and len(r) != bounds[nxt + 1] - bounds[nxt]:
                    raise RunError(f"rows {bounds[nxt]}..{bounds[nxt + 1] - 1}: a worker returned {len(r)} "
                                   f"results; no output written")
                stats.merge(part)
                if r is not None:
                    yield bounds[nxt], bounds[nxt + 1], r, kept
                nxt += 1
    finally:
        with _SIGNALS.hold():           # the clean-up is not cut in two
            if futures:
                with contextlib.suppress(Exception):
                    client.cancel(futures)
            stack.close()
