"""gunicorn's hooks for Linja: ``gunicorn -c python:web.serving "app:create_app()"`` (the
Procfile, and the webhook benchmark for Linja and the endpoints it is measured against).

Once a worker has loaded the app, everything it holds for its whole life (modules, the
app, SQLAlchemy's compiled statements, Babel's locale data: about 150,000 objects) is
moved out of the garbage collector's reach with ``gc.freeze()``. Without it, every few
requests a full collection walks all of them again: 40-50 ms in which the worker answers
nobody, the longest pause a text or a keypress waits for."""
from __future__ import annotations

import gc


def post_worker_init(worker) -> None:
    gc.freeze()
