"""The FastAPI app: every CLI command as ``POST /api/<group>/<command>``, the saved runs, background jobs and SSE.

Started by ``chipfleet serve-app`` (uvicorn, ``chipfleet.web.app:create_app`` as a factory); the settings come
from the environment (:meth:`chipfleet.web.settings.Settings.from_env`) unless given.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

import chipfleet
from chipfleet.cli.runs_save import saved
from chipfleet.exceptions import ChipfleetError, NotFoundError
from chipfleet.store import RunDiff, RunRecord, RunStore, RunSummary, open_store
from chipfleet.store.records import STATUSES
from chipfleet.web import errors, pages
from chipfleet.web.auth import check_token
from chipfleet.web.commands import (
    COMMANDS,
    CommandSpec,
    cached_catalog,
    cli_args,
    parsed_inputs,
    resolve_paths,
    run_command,
    values_of,
)
from chipfleet.web.errors import ApiError
from chipfleet.web.jobs import FINAL, INTERRUPTED, JobManager
from chipfleet.web.settings import Settings

SSE_POLL_S = 0.25
SSE_KEEPALIVE_S = 15.0
WAIT_MAX_S = 3600.0


class Health(BaseModel):
    status: str
    version: str


class ErrorBody(BaseModel):
    """Every 4xx: the error's type, what is wrong and how to fix it, and the request field it is about."""

    error: str
    message: str
    field: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": what}
    for code, what in ((400, "Bad input"), (401, "No or wrong bearer token"), (404, "No such run or file"),
                       (409, "The job is already finished"), (422, "The body does not match the request model"))
}  # fmt: skip


class Version(BaseModel):
    version: str
    api: int


class JobAccepted(BaseModel):
    run_id: str
    status_url: str
    events_url: str


class JobStatus(BaseModel):
    """A background job as its run in the store says: status, progress, and the result or error once finished."""

    run_id: str
    kind: str
    status: str
    progress: float
    message: str
    result: Any = None
    error: str | None = None
    files: list[str] = []
    created_at: str
    finished_at: str | None = None


# ----------------------------------------------------------------------------- helpers
def _store(request: Request) -> RunStore:
    store: RunStore = request.app.state.store
    return store


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _get(store: RunStore, run_id: str) -> RunRecord:
    try:
        return store.get(run_id)
    except NotFoundError as e:
        raise ApiError(404, "NotFoundError", f"{e}; GET /api/runs lists the saved runs", "run_id") from None
    except ChipfleetError as e:  # an ambiguous prefix, an id with characters no id has
        raise ApiError(400, type(e).__name__, str(e), "run_id") from None


def _files(settings: Settings, run_id: str) -> list[str]:
    folder = settings.run_dir(run_id)
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _job_status(settings: Settings, record: RunRecord) -> JobStatus:
    return JobStatus(
        run_id=record.id, kind=record.kind, status=record.status, progress=record.progress,
        message=record.progress_message, result=record.outputs if record.status == "done" else None,
        error=record.error, files=_files(settings, record.id), created_at=record.created_at.isoformat(),
        finished_at=record.finished_at.isoformat() if record.finished_at else None,
    )  # fmt: skip


def _overlays(paths: list[str], files_dir: Path) -> list[dict[str, Any]]:
    """Each overlay as the store keeps it: its name in the data folder, its sha256 and its text (for diffs)."""
    out = []
    for p in paths:
        data = Path(p).read_bytes()
        name = Path(p).relative_to(files_dir.resolve()).as_posix()
        out.append({"path": name, "sha256": hashlib.sha256(data).hexdigest(), "text": data.decode("utf-8", "replace")})
    return out


class _CatalogHashes:
    """The catalog's content hash per set of overlays, kept while the files are unchanged (size and mtime)."""

    def __init__(self, files_dir: Path) -> None:
        self._files_dir = files_dir.resolve()
        self._cache: dict[tuple[tuple[str, int, int], ...], str] = {}

    def __call__(self, paths: list[str]) -> str:
        from chipfleet.catalog import content_hash

        key = tuple((p, (st := Path(p).stat()).st_size, st.st_mtime_ns) for p in paths)
        if key not in self._cache:
            try:
                self._cache[key] = content_hash(cached_catalog(tuple(Path(p) for p in paths)))
            except ChipfleetError as e:
                message = str(e).replace(f"{self._files_dir}/", "")  # the data folder's names, not the server's paths
                raise ApiError(400, type(e).__name__, f"catalog overlay {message}", "catalog") from None
        return self._cache[key]


# ----------------------------------------------------------------------------- the command endpoints
def _command_endpoint(spec: CommandSpec) -> Callable[..., Any]:
    """The endpoint of one command: quick ones answer with the CLI's JSON; long ones start a job (202)."""

    async def endpoint(request: Request, body: BaseModel, wait: bool = False) -> Any:
        settings = _settings(request)
        store = _store(request)
        values = values_of(spec, body)
        if not spec.long:
            return await run_in_threadpool(_run_quick, request, spec, values)
        # refuse bad names before a run exists; output names are placed in the run's folder once it does
        await run_in_threadpool(resolve_paths, spec, values, settings.files_dir, settings.run_dir("check"))
        run_id = await run_in_threadpool(_start_job, request, spec, values)
        if not wait:
            accepted = JobAccepted(
                run_id=run_id, status_url=f"/api/jobs/{run_id}", events_url=f"/api/jobs/{run_id}/events"
            )
            return JSONResponse(accepted.model_dump(), status_code=202, headers={"Location": accepted.status_url})
        # polled here, not waited on in a worker thread: waiting requests must not use up the thread pool
        deadline = time.monotonic() + WAIT_MAX_S
        while request.app.state.jobs.running(run_id) and time.monotonic() < deadline:
            await asyncio.sleep(SSE_POLL_S)
        record = await run_in_threadpool(_get, store, run_id)
        return _job_status(settings, record)

    params = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=spec.model, default=Body(...)),
    ]
    if spec.long:
        params.append(
            inspect.Parameter(
                "wait",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=bool,
                default=Query(False, description="Run the job and answer when it is finished (for scripts)."),
            )
        )
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # FastAPI reads it
    endpoint.__name__ = "run_" + "_".join(spec.path).replace("-", "_")
    return endpoint


def _run_quick(request: Request, spec: CommandSpec, values: dict[str, Any]) -> JSONResponse:
    settings = _settings(request)
    resolved = resolve_paths(spec, values, settings.files_dir, None)
    overlays = resolved.get("catalog") or []
    args = cli_args(spec, resolved)
    inputs = parsed_inputs(spec, args, values)
    started = time.perf_counter()
    try:
        result = run_command(spec, args)
    except ApiError as e:
        # the command named the files by the server's paths: the client knows them by their names in files/
        e.message = e.message.replace(f"{settings.files_dir}/", "")
        # as the CLI does: a command that ran and failed is saved failed; a request it could not read is not a run
        if saved(spec.kind) and e.error not in ("UsageError", "Aborted"):
            _store(request).save_failed(
                spec.kind, inputs, f"{e.error}: {e.message}", catalog_hash=request.app.state.catalog_hashes(overlays),
                overlays=_overlays(overlays, settings.files_dir), timings={"wall_s": time.perf_counter() - started},
                source="api",
            )  # fmt: skip
        raise
    wall_s = time.perf_counter() - started
    if not saved(spec.kind):  # listings (catalog, models, traces) are not runs: the CLI does not save them either
        return JSONResponse(result)
    catalog_hash = request.app.state.catalog_hashes(overlays)
    run_id = _store(request).save(
        spec.kind, inputs, result, catalog_hash=catalog_hash, overlays=_overlays(overlays, settings.files_dir),
        timings={"wall_s": wall_s}, source="api",
    )  # fmt: skip
    return JSONResponse(result, headers={"X-Chipfleet-Run": run_id})


def _start_job(request: Request, spec: CommandSpec, values: dict[str, Any]) -> str:
    settings = _settings(request)
    store = _store(request)
    checked = resolve_paths(spec, values, settings.files_dir, settings.run_dir("check"))
    overlays = checked.get("catalog") or []
    catalog_hash = request.app.state.catalog_hashes(overlays)
    inputs = parsed_inputs(spec, cli_args(spec, checked), values)  # bad input: a 4xx now, not a failed job later
    run_id = store.start(
        spec.kind, inputs, catalog_hash=catalog_hash, overlays=_overlays(overlays, settings.files_dir), source="api"
    )
    run_dir = settings.run_dir(run_id)
    try:
        resolved = resolve_paths(spec, values, settings.files_dir, run_dir)
        if any(f.path_role == "output" and values.get(f.name) is not None for f in spec.fields):
            run_dir.mkdir(parents=True, exist_ok=True)
        request.app.state.jobs.submit(run_id, spec.kind, cli_args(spec, resolved))
    except BaseException as e:  # the run exists: it must not stay "running" for a job that never started
        store.fail(run_id, f"the job could not start: {type(e).__name__}: {e}")
        raise
    return run_id


# ----------------------------------------------------------------------------- jobs and runs
def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _events(request: Request, run_id: str) -> AsyncIterator[bytes]:
    """Server-sent events of one job: its progress while it runs, then one done, failed or cancelled event."""
    settings = _settings(request)
    store = _store(request)
    last: tuple[float, str] | None = None
    quiet_since = time.monotonic()
    while True:
        try:
            record = await run_in_threadpool(_get, store, run_id)
        except ApiError as e:  # deleted while it ran: the stream says so instead of just ending
            yield _sse("deleted", {"run_id": run_id, "message": e.message})
            return
        if record.status in FINAL:
            yield _sse(record.status, _job_status(settings, record).model_dump(mode="json"))
            return
        now = (record.progress, record.progress_message)
        if now != last:
            last = now
            quiet_since = time.monotonic()
            yield _sse("progress", {"run_id": run_id, "progress": now[0], "message": now[1]})
        elif time.monotonic() - quiet_since > SSE_KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield b": keep-alive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(SSE_POLL_S)


def _routes(app: FastAPI) -> None:
    writes = [Depends(check_token)]
    errs = ERROR_RESPONSES

    @app.get("/api/health", tags=["server"])
    async def health() -> Health:
        return Health(status="ok", version=chipfleet.__version__)

    @app.get("/api/version", tags=["server"])
    async def version() -> Version:
        return Version(version=chipfleet.__version__, api=1)

    @app.get("/api/runs", tags=["runs"], responses=errs)
    def list_runs(
        request: Request,
        kind: str | None = Query(None, max_length=64, description="Only runs of this command, e.g. 'estimate serve'."),
        status: str | None = Query(None, description="Only runs in this state: " + ", ".join(STATUSES) + "."),
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=1_000_000_000),
    ) -> list[RunSummary]:
        if status is not None and status not in STATUSES:
            raise ApiError(400, "ConfigError", f"status must be one of {', '.join(STATUSES)}, got {status!r}", "status")
        return _store(request).list(kind=kind, status=status, limit=limit, offset=offset)

    @app.get("/api/runs/{run_id}", tags=["runs"], responses=errs)
    def get_run(request: Request, run_id: str) -> RunRecord:
        return _get(_store(request), run_id)

    @app.get("/api/runs/{a}/diff/{b}", tags=["runs"], responses=errs)
    def diff_runs(request: Request, a: str, b: str) -> RunDiff:
        store = _store(request)
        return store.diff(_get(store, a).id, _get(store, b).id)

    @app.delete("/api/runs/{run_id}", tags=["runs"], dependencies=writes, status_code=204, responses=errs)
    def delete_run(request: Request, run_id: str) -> Response:
        store = _store(request)
        record = _get(store, run_id)
        request.app.state.jobs.cancel(record.id)
        store.delete(record.id)
        shutil.rmtree(_settings(request).run_dir(record.id), ignore_errors=True)
        return Response(status_code=204)

    @app.get("/api/runs/{run_id}/files/{name:path}", tags=["runs"], responses=errs)
    def run_file(request: Request, run_id: str, name: str) -> FileResponse:
        settings = _settings(request)
        record = _get(_store(request), run_id)
        if name not in _files(settings, record.id):
            raise ApiError(404, "NotFoundError", f"run {record.id[:8]} wrote no file {name!r}; its files are listed "
                           f"in GET /api/jobs/{record.id}", "name")  # fmt: skip
        return FileResponse(settings.run_dir(record.id) / name)

    @app.get("/api/jobs/{run_id}", tags=["jobs"], responses=errs)
    def job(request: Request, run_id: str) -> JobStatus:
        return _job_status(_settings(request), _get(_store(request), run_id))

    @app.get("/api/jobs/{run_id}/events", tags=["jobs"], response_class=StreamingResponse, responses=errs)
    def job_events(request: Request, run_id: str) -> StreamingResponse:
        _get(_store(request), run_id)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(_events(request, run_id), media_type="text/event-stream", headers=headers)

    @app.delete("/api/jobs/{run_id}", tags=["jobs"], dependencies=writes, responses=errs)
    def cancel_job(request: Request, run_id: str) -> JobStatus:
        store = _store(request)
        record = _get(store, run_id)
        if record.status in FINAL:
            raise ApiError(409, "ConflictError", f"job {record.id[:8]} is already {record.status}; nothing to cancel",
                           "run_id")  # fmt: skip
        if not request.app.state.jobs.cancel(record.id):
            raise ApiError(
                409,
                "ConflictError",
                f"job {record.id[:8]} is not run by this server (another server's, "
                "or one this server lost on a restart); it cannot be cancelled from here",
                "run_id",
            )
        return _job_status(_settings(request), _get(store, record.id))

    for spec in COMMANDS:
        app.add_api_route(
            spec.url, _command_endpoint(spec), methods=["POST"], dependencies=writes, tags=[spec.path[0]],
            summary=spec.summary, description=(spec.command.help or "").strip(),
            responses={**ERROR_RESPONSES, **({202: {"model": JobAccepted}} if spec.long else {})},
        )  # fmt: skip


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def request_host(header: str) -> str:
    """The host a Host header names, without its port ("[::1]:8000" -> "[::1]", "localhost:80" -> "localhost")."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.split(":", 1)[0]


def _loopback_hosts_only(app: FastAPI) -> None:
    """Without a token (a server on loopback), answer only requests addressed to this machine by name or address:
    a page of another site whose name resolves to 127.0.0.1 (DNS rebinding) gets a 400, not the API."""

    @app.middleware("http")
    async def loopback_host(request: Request, call_next: Callable[[Request], Any]) -> Response:
        host = request_host(request.headers.get("host", ""))
        if host not in LOOPBACK_HOSTS:
            error = ApiError(
                400, "HostNotAllowed",
                f"this server has no token, so it answers only requests addressed to "
                f"{', '.join(sorted(LOOPBACK_HOSTS))} (got Host {host!r}); open it as http://127.0.0.1:PORT, or "
                "start it with a token (chipfleet serve-app --token-file) to serve other names",
            )  # fmt: skip
            return JSONResponse(error.body(), status_code=error.status)
        response: Response = await call_next(request)
        return response


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app, for uvicorn's factory mode: settings from the environment unless given."""
    settings = settings or Settings.from_env()
    store = open_store(settings.store_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(lambda: store.recover_interrupted(message=INTERRUPTED))
        yield
        await run_in_threadpool(app.state.jobs.shutdown)

    app = FastAPI(
        title="chipfleet",
        version=chipfleet.__version__,
        description="Where to train and serve generative AI: the chipfleet CLI's commands as an HTTP API. Request "
        "bodies use the CLI's option names in snake_case; quantities are the CLI's text ('8k', '30s') or numbers "
        "in base units. Long commands run as background jobs (202, then /api/jobs/{id} and its events).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.jobs = JobManager(store, settings.store_url, settings.max_jobs)
    app.state.catalog_hashes = _CatalogHashes(settings.files_dir)
    settings.files_dir.mkdir(parents=True, exist_ok=True)
    errors.install(app)
    if settings.token is None:
        _loopback_hosts_only(app)
    _routes(app)
    app.include_router(pages.router)
    return app
