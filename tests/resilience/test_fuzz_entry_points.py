"""Hypothesis over every public entry point: the callables of ``sora_nb.__all__``, SoraJob's
constructors and public methods, and the CLI's ``main(argv)``. Whatever they are given,
they return or raise a typed ``SoraError`` (a ``SoraParameterError`` names one of the
entry point's own parameters, and its message says which); never a raw ValueError,
TypeError, AttributeError or UnicodeError.

Valid calls really go out: to a real backend that is not there (a closed loopback port),
so they end in ``SoraConnectionError`` after one try instead of rendering videos. Method
calls use a real finished job whose server was stopped after its files were cached.
``sora_nb.local.start`` is left out: a valid call starts a server (its validation has
tests of its own in tests/local/).
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sora_nb as snb
from sora_nb import _config
from sora_nb.cli import main as cli_main
from sora_nb.local import start

from ._report import Ledger

pytestmark = [
    pytest.mark.slow,
    # rounding odd durations is documented behaviour, warned about; not what is tested here
    pytest.mark.filterwarnings("ignore::sora_nb.SoraDurationWarning"),
]

EXAMPLES = 30
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OFFLINE_POLICY = snb.PollPolicy(min_interval=0.0, max_interval=0.0, max_failures=0)

# -- values ------------------------------------------------------------------------------

_ODD_TEXT = ["", " ", "..", ".", "/", "/abs", "../../victim", "a\x00b", "\ud800", "\udfff x",
             "x" * 10_000, "<script>alert(1)</script>", "sora-2", "720x1280", "1280x720",
             "video", "thumbnail", "4", "8.0", "-4", "nan", "inf", "1e309", "video_abc",
             "é" * 3, "\n", "sora-2-pro", "1792x1024", "crop", "pad", "mix", "loop"]
_ODD_NUMBERS: list[Any] = [0, -1, 1, 4, 6, 8, 12, 10**30, -(10**30), 0.5, float("nan"),
                           float("inf"), -float("inf"), 1e-300, True, False]


class _Weird:
    """An object whose every dunder that could be tried misbehaves."""

    def __str__(self) -> str:
        raise RuntimeError("str() of a hostile object")

    __repr__ = __str__

    def __fspath__(self) -> str:
        raise RuntimeError("fspath() of a hostile object")


anything: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(_ODD_TEXT),
    st.sampled_from(_ODD_NUMBERS),
    st.binary(max_size=40),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.tuples(st.integers(-5, 5000), st.integers(-5, 5000)),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.builds(object),
    st.builds(_Weird),
)
# Names only (no separators): a path that is accepted is written inside the test's own
# working directory, never somewhere else on this machine (tests may run as root).
_names = st.text(st.characters(blacklist_characters="/\\", blacklist_categories=["Cs"]),
                 min_size=1, max_size=20).filter(lambda s: s not in (".", ".."))
paths: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.integers(), st.binary(max_size=8), st.builds(object),
    st.sampled_from(["", ".", "..", "a\x00b"]), _names,
    _names.map(lambda s: s + ".mp4"), _names.map(Path),
)
PATH_PARAMS = {"path", "out", "cache_dir", "data_dir"}


def _value_for(name: str) -> st.SearchStrategy[Any]:
    return paths if name in PATH_PARAMS else anything


# -- fixtures ----------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


OFFLINE_URL = f"http://127.0.0.1:{_closed_port()}/v1"


def _offline() -> None:
    _config.reset_settings()
    snb.configure(backend="local", base_url=OFFLINE_URL, api_key="sk-fuzz-unused-key-0000",
                  poll=OFFLINE_POLICY)


@pytest.fixture()
def offline(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    _offline()
    snb.configure(cache_dir=cache)
    yield cwd
    _config.reset_settings()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[snb.SoraJob, Path]]:
    """A completed job with its three files cached, whose server is gone."""
    cache = tmp_path_factory.mktemp("fuzz-cache")
    with start(job_seconds=0, poll_after_ms=20) as server:
        snb.configure(backend="local", base_url=server.base_url, api_key=server.api_key,
                      cache_dir=cache)
        job = snb.SoraJob("A fuzzed clip", seconds=4, size="720x1280", cache=False).wait()
        for variant in ("video", "thumbnail", "spritesheet"):
            job.download(variant)  # type: ignore[arg-type]
    _config.reset_settings()
    yield job, cache


# -- the check ---------------------------------------------------------------------------

TYPED = (snb.SoraError,)
STATS: dict[str, dict[str, int]] = {}


def _check(name: str, params: set[str], call: Callable[[], object]) -> None:
    stats = STATS.setdefault(name, {"calls": 0, "returned": 0, "typed": 0})
    stats["calls"] += 1
    try:
        result = call()
        if inspect.isawaitable(result):
            asyncio.run(_await(result))
        elif inspect.isasyncgen(result):
            asyncio.run(_first(result))
    except TYPED as exc:
        stats["typed"] += 1
        if isinstance(exc, snb.SoraParameterError):
            assert exc.param in params, f"{name}: names {exc.param!r}, not one of {params}"
            assert str(exc).startswith(f"{exc.param}="), str(exc)
        return
    except SystemExit:
        raise
    except BaseException as exc:
        raise AssertionError(f"{name} raised an untyped {type(exc).__name__}: {exc!r}") from exc
    stats["returned"] += 1


async def _await(result: Any) -> None:
    await result


async def _first(agen: Any) -> None:
    async for _ in agen:
        break
    await agen.aclose()


#: What the ``**kwargs`` of an entry point forward to: SoraJob's options (compare) or
#: merge_audio's (with_audio).
_JOB_OPTIONS = ("model", "seconds", "size", "input_reference", "fit", "enhance", "cache",
                "backend")
KWARGS_OF: dict[str, tuple[str, ...]] = {
    "compare": _JOB_OPTIONS,
    "SoraJob": _JOB_OPTIONS,
    "SoraJob.acreate": _JOB_OPTIONS,
    "SoraJob.async_create": _JOB_OPTIONS,
    "SoraJob.with_audio": ("out", "mode", "fit", "volume", "original_volume", "cache"),
    "SoraJob.async_with_audio": ("out", "mode", "fit", "volume", "original_volume", "cache"),
}


def _fuzz_callable(fn: Callable[..., Any], data: st.DataObject, name: str,
                   skip: tuple[str, ...] = ()) -> None:
    """Call ``fn`` with arbitrary values for a drawn subset of its parameters (every
    required one included), by keyword or position as the signature allows."""
    sig = inspect.signature(fn)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.name in skip or p.kind is p.VAR_POSITIONAL:
            continue
        if p.kind is p.VAR_KEYWORD:
            # Names the callee documents for **kwargs (a name it does not know is Python's
            # own TypeError, like any misspelt keyword).
            names = KWARGS_OF.get(name, ())
            if names and data.draw(st.booleans(), label="pass **kwargs"):
                key = data.draw(st.sampled_from(names), label="kwarg")
                kwargs[key] = data.draw(_value_for(key), label=key)
            continue
        required = p.default is p.empty
        if not required and not data.draw(st.booleans(), label=f"pass {p.name}"):
            continue
        value = data.draw(_value_for(p.name), label=p.name)
        if p.kind is p.POSITIONAL_OR_KEYWORD and required and not kwargs:
            args.append(value)
        else:
            kwargs[p.name] = value
    params = set(sig.parameters) | set(kwargs)
    _check(name, params, lambda: fn(*args, **kwargs))


# -- the entry points --------------------------------------------------------------------

# Functions only: classes are constructors (below, or plain data records) and typing
# aliases (Status, Variant, ...) are not meant to be called.
MODULE_LEVEL = sorted(
    name for name in snb.__all__
    if name != "local" and inspect.isroutine(getattr(snb, name))
)


@pytest.mark.parametrize("name", MODULE_LEVEL)
@FUZZ
@given(data=st.data())
def test_module_functions_raise_only_typed_errors(
    name: str, data: st.DataObject, offline: Path
) -> None:
    try:
        _fuzz_callable(getattr(snb, name), data, name)
    finally:
        _offline()  # configure() may have changed the settings: back to the closed port


def _public_of_sorajob() -> tuple[dict[str, Callable[..., Any]], list[str]]:
    """SoraJob's constructors (itself and its classmethods) and its public methods, found
    by introspection so that a method added later is fuzzed too."""
    constructors: dict[str, Callable[..., Any]] = {"SoraJob": snb.SoraJob}
    methods: list[str] = []
    for name, attr in inspect.getmembers(snb.SoraJob):
        if name.startswith("_") or isinstance(attr, property):
            continue
        raw = inspect.getattr_static(snb.SoraJob, name)
        if isinstance(raw, classmethod):
            constructors[f"SoraJob.{name}"] = attr
        elif callable(attr):
            methods.append(name)
    return constructors, sorted(methods)


CONSTRUCTORS, METHODS = _public_of_sorajob()
CONSTRUCTORS["PollPolicy"] = snb.PollPolicy


@pytest.mark.parametrize("name", list(CONSTRUCTORS))
@FUZZ
@given(data=st.data())
def test_constructors_raise_only_typed_errors(
    name: str, data: st.DataObject, offline: Path
) -> None:
    skip = ("clock", "sleep") if name == "PollPolicy" else ()
    _fuzz_callable(CONSTRUCTORS[name], data, name, skip)


@pytest.mark.parametrize("method", METHODS)
@FUZZ
@given(data=st.data())
def test_job_methods_raise_only_typed_errors(
    method: str, data: st.DataObject, offline: Path, finished: tuple[snb.SoraJob, Path]
) -> None:
    job, cache = finished
    snb.configure(cache_dir=cache)  # where the job's files are cached
    _fuzz_callable(getattr(job, method), data, f"SoraJob.{method}")


_SUBCOMMANDS = st.sampled_from(["generate", "list", "status", "--help", "bogus", ""])
_OPTIONS = st.sampled_from(["--model", "--seconds", "--size", "--no-enhance", "--out",
                            "--port", "-h", "--"])
_ARG = st.one_of(st.sampled_from(_ODD_TEXT).filter(lambda s: "\x00" not in s),
                 st.text(st.characters(blacklist_categories=["Cs"],
                                       blacklist_characters="/\x00"), max_size=12))


@FUZZ
@given(argv=st.tuples(_SUBCOMMANDS, st.lists(st.one_of(_OPTIONS, _ARG), max_size=6)))
def test_cli_main_returns_a_status_or_exits(argv: tuple[str, list[str]], offline: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    args = [a for a in (argv[0], *argv[1]) if a]
    stats = STATS.setdefault("cli main(argv)", {"calls": 0, "returned": 0, "typed": 0})
    stats["calls"] += 1
    try:
        code = cli_main(args)
    except SystemExit as exc:  # argparse's own exit on bad usage (2) or --help (0)
        assert exc.code in (0, 2), exc
        stats["typed"] += 1
    else:
        assert code in (0, 1)
        stats["returned"] += 1
    out = capsys.readouterr()
    assert "Traceback" not in out.err


def test_fuzz_ledger(ledger: Ledger) -> None:
    """Runs after the fuzz tests of this module (pytest keeps file order)."""
    expected = len(MODULE_LEVEL) + len(CONSTRUCTORS) + len(METHODS) + 1
    assert len(STATS) == expected, sorted(STATS)
    calls = sum(s["calls"] for s in STATS.values())
    typed = sum(s["typed"] for s in STATS.values())
    ledger.record(
        "fuzz", f"arbitrary arguments to {expected} entry points "
        f"({len(MODULE_LEVEL)} functions of sora_nb.__all__, {len(CONSTRUCTORS)} "
        f"constructors, {len(METHODS)} SoraJob methods, the CLI's main(argv))",
        f"{EXAMPLES} examples each (derandomized)",
        "only SoraError subclasses raised; every SoraParameterError named a parameter of "
        "the entry point; the CLI only returned 0/1 or exited via argparse",
        f"{calls} calls: {typed} typed errors, {calls - typed} returned",
    )
