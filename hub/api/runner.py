"""How every REST route does its work: in one transaction (or on a read connection), with
the domain's errors turned into the HTTP answers a cash register can act on."""
from __future__ import annotations

from typing import Callable

from fastapi import HTTPException
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from hub.core.engine import reader
from hub.core.errors import Conflict, Invalid, NotFound


def runner(engine: Engine, after_write: Callable[[], None] | None = None) -> Callable:
    """run(fn, *args, write=True, retry=False, **kw) calls fn(conn, *args, **kw).

    404: something named does not exist; 409: it exists but the request conflicts with its
    state (a blocked card, too few points); 422: a value the domain refuses. With retry, a
    unique key that raced in from a parallel request is answered as a repeat.
    `after_write` runs after each write, committed or not (to drop caches)."""
    read = reader(engine)

    def run(fn, *args, write=True, retry=False, **kw):
        try:
            with (engine.begin() if write else read.connect()) as conn:
                return fn(conn, *args, **kw)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from exc
        except Invalid as exc:
            raise HTTPException(422, str(exc)) from exc
        except IntegrityError:
            if not retry:
                raise
            return run(fn, *args, write=write, **kw)
        finally:
            if write and after_write is not None:
                after_write()

    return run
