"""The SageMaker container contract on port 8080: GET /ping, POST /invocations.

/ping answers 200 only once both models are loaded (SageMaker keeps traffic away until then,
and an update whose container never pings healthy is rolled back by SageMaker).
"""
from __future__ import annotations

import json
import logging
import threading

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from server import protocol
from server.engine import ShadowSelfEngine

log = logging.getLogger("shadow-self")
app = FastAPI(title="cato-shadow-self")
engine = ShadowSelfEngine(protocol.Config.from_env())


def _load() -> None:
    try:
        engine.load()
        log.info("shadow self ready: %s, hidden states %d (layer %d, %s)", engine.cfg.model_path,
                 engine.cfg.hidden_size, engine.cfg.layer, engine.cfg.pooling)
    except Exception as exc:  # noqa: BLE001 - reported by /ping and the logs
        engine.problem = f"{type(exc).__name__}: {exc}"
        log.exception("loading failed")


@app.on_event("startup")
def startup() -> None:
    threading.Thread(target=_load, name="load", daemon=True).start()


@app.get("/ping")
def ping() -> JSONResponse:
    if engine.ready:
        return JSONResponse({"status": "healthy"})
    return JSONResponse({"status": "loading" if engine.problem is None else "failed", "error": engine.problem},
                        status_code=503 if engine.problem is None else 500)


@app.post("/invocations")
async def invocations(request: Request) -> JSONResponse:
    if not engine.ready:
        return JSONResponse(protocol.error("model is not loaded yet", "unavailable"), status_code=503)
    try:
        req = protocol.parse_request(json.loads(await request.body() or b"null"))
    except (ValueError, protocol.BadRequest) as exc:
        return JSONResponse(protocol.error(str(exc)), status_code=400)
    try:
        return JSONResponse(await engine.invoke(req))
    except ValueError as exc:  # e.g. a pooled vector of the wrong size: never answer a bad vector
        log.exception("invocation failed")
        return JSONResponse(protocol.error(str(exc), "error"), status_code=500)
