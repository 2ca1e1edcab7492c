"""The SageMaker container contract on port 8080: GET /ping, POST /invocations."""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from server import protocol
from server.model import NliModel

log = logging.getLogger("nli")
app = FastAPI(title="cato-nli")
model = NliModel()
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nli")  # one forward pass at a time on the GPU


def _load() -> None:
    try:
        model.load()
    except Exception as exc:  # noqa: BLE001 - reported by /ping and the logs
        model.problem = f"{type(exc).__name__}: {exc}"
        log.exception("loading failed")


@app.on_event("startup")
def startup() -> None:
    threading.Thread(target=_load, name="load", daemon=True).start()


@app.get("/ping")
def ping() -> JSONResponse:
    if model.ready:
        return JSONResponse({"status": "healthy"})
    return JSONResponse({"status": "loading" if model.problem is None else "failed", "error": model.problem},
                        status_code=503 if model.problem is None else 500)


@app.post("/invocations")
async def invocations(request: Request) -> JSONResponse:
    if not model.ready:
        return JSONResponse(protocol.error("model is not loaded yet", "unavailable"), status_code=503)
    try:
        premise, hypothesis = protocol.parse_request(json.loads(await request.body() or b"null"))
    except (ValueError, protocol.BadRequest) as exc:
        return JSONResponse(protocol.error(str(exc)), status_code=400)
    out = await asyncio.get_running_loop().run_in_executor(_pool, model.classify, premise, hypothesis)
    return JSONResponse(out)
