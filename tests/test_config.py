"""Backend resolution order and secrecy of the key."""

from __future__ import annotations

from pathlib import Path

import pytest

import sora_nb as snb
from sora_nb import _config
from sora_nb._errors import redact

SECRET = "sk-test-THIS-MUST-NEVER-LEAK-123456"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    _config.reset_settings()
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SORA_NB_BACKEND"):
        monkeypatch.delenv(name, raising=False)


def test_key_present_means_openai_and_base_url_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    backend = _config.resolve_backend()
    assert backend.name == "openai" and backend.base_url == "https://api.openai.com/v1"
    assert backend.label == "openai"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    compatible = _config.resolve_backend()
    assert compatible.base_url == "http://127.0.0.1:9/v1"
    assert compatible.label == "127.0.0.1"
    # OpenAI's own URL keeps the Sora rules; any other server is generic unless named
    assert backend.profile == "sora" and compatible.profile == "generic"
    # Idempotency-Key: honoured by the sora profile's servers, not assumed of others
    assert backend.idempotent and not compatible.idempotent
    snb.configure(profile="sora")  # e.g. a compatible server that enforces Sora's rules
    assert _config.resolve_backend().profile == "sora"
    assert _config.resolve_backend(profile="generic").profile == "generic"
    assert SECRET not in repr(backend) and SECRET not in backend.identity


def test_order_explicit_then_configure_then_env_then_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("SORA_NB_BACKEND", "local")
    snb.configure(backend="openai")
    assert _config.resolve_backend().name == "openai"  # configure() beats the env
    snb.configure(base_url="http://127.0.0.1:9/v1", api_key="k")
    assert _config.resolve_backend("local").name == "local"  # the argument beats both
    _config.reset_settings()
    assert _config.resolve_backend().name == "local"  # SORA_NB_BACKEND beats the key


def test_openai_without_a_key_is_a_clear_error() -> None:
    with pytest.raises(snb.SoraConfigError, match="OPENAI_API_KEY"):
        _config.resolve_backend("openai")
    with pytest.raises(snb.SoraParameterError, match="backend"):
        snb.configure(backend="replicate")  # type: ignore[arg-type]


def test_cache_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_NB_CACHE_DIR", str(tmp_path / "env"))
    assert _config.cache_dir() == tmp_path / "env"
    snb.configure(cache_dir=tmp_path / "explicit")
    assert _config.cache_dir() == tmp_path / "explicit"


def test_the_journal_makes_a_missing_cache_dir(tmp_path: Path) -> None:
    # the journal is found without a mkdir per create (cache_dir_path); it makes the
    # folder when it connects, also when the folder went away after a first use
    import shutil
    import sqlite3
    import threading

    from sora_nb import _store

    folder = tmp_path / "not" / "yet"
    snb.configure(cache_dir=folder)
    assert _config.cache_dir_path() == folder and not folder.exists()
    assert snb.history() == [] and (folder / "journal.sqlite3").is_file()

    def entry(video_id: str) -> _store.HistoryEntry:
        return _store.HistoryEntry(id=video_id, prompt="p", original_prompt="p",
                                   model="sora-2", seconds=4, size="1280x720",
                                   backend="local", created_at=1.0)

    def on_disk() -> list[str]:  # what the file holds now, by a connection of its own
        with sqlite3.connect(folder / "journal.sqlite3") as conn:
            return sorted(r[0] for r in conn.execute("SELECT id FROM jobs"))

    # 1. the writer thread made the new file: the reader's old connection is not reused
    _store.record_created(entry("video_1"))
    assert [e.id for e in snb.history()] == ["video_1"]
    shutil.rmtree(tmp_path / "not")
    _store.record_created(entry("video_2"))  # the writer thread, still alive, writes
    assert on_disk() == ["video_2"]
    assert [e.id for e in snb.history()] == ["video_2"]

    # 2. a reader made the new file first: the writer's old connection is not reused
    shutil.rmtree(tmp_path / "not")
    assert snb.history() == []
    _store.record_created(entry("video_3"))
    assert on_disk() == ["video_3"]

    # 3. threads reconnecting at once all find the tables
    shutil.rmtree(tmp_path / "not")
    journal = _store.journal()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            journal.history()
        except BaseException as exc:  # collected for the assert below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

def test_a_rejected_key_never_appears_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sora_nb.local import start

    with start(job_seconds=0) as server:
        snb.configure(backend="local", base_url=server.base_url, api_key=SECRET)
        with pytest.raises(snb.SoraAuthenticationError) as info:
            snb.SoraJob("Locked out", seconds=4, cache=False)
    assert info.value.status_code == 401
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert "sk-test" not in str(info.value)


def test_redact_masks_registered_and_key_shaped_secrets() -> None:
    snb.configure(api_key="my-private-token-42")
    assert "my-private-token-42" not in redact("auth my-private-token-42 failed")
    assert redact(f"bearer {SECRET}") == "bearer [redacted]"


def test_configure_reset_goes_back_to_the_defaults() -> None:
    snb.configure(backend="openai", base_url="http://127.0.0.1:9/v1", api_key="k-123456")
    snb.configure(reset=True, cache_dir="/tmp/sora-nb-reset-test")
    assert _config.settings.backend is None and _config.settings.base_url is None
    assert _config.settings.api_key is None
    assert _config.cache_dir() == Path("/tmp/sora-nb-reset-test")


def test_an_unknown_backend_names_the_parameter_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(snb.SoraParameterError) as info:
        _config.resolve_backend("foo")  # type: ignore[arg-type]
    assert info.value.param == "backend"
    monkeypatch.setenv("SORA_NB_BACKEND", "foo")
    with pytest.raises(snb.SoraParameterError) as info:
        _config.resolve_backend()
    assert info.value.param == "SORA_NB_BACKEND"


def test_only_sora_nbs_own_backend_counts_as_idempotent_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert not _config.resolve_backend().idempotent
    snb.configure(base_url="http://127.0.0.1:9/v1", api_key="k-123456")
    assert _config.resolve_backend("local").idempotent
    snb.configure(idempotent=True)
    assert _config.resolve_backend("openai").idempotent
    snb.configure(idempotent=False)
    assert not _config.resolve_backend("local").idempotent
    with pytest.raises(snb.SoraParameterError, match="idempotent"):
        snb.configure(idempotent="yes")  # type: ignore[arg-type]


def test_content_urls_quote_the_id() -> None:
    backend = _config.Backend("openai", "http://h/v1", "k", idempotent=False)
    assert backend.content_url("video_a/b==") == "http://h/v1/videos/video_a%2Fb==/content"


def test_a_stopped_embedded_server_is_started_again(tmp_path: Path) -> None:
    snb.configure(cache_dir=tmp_path)
    first = _config.embedded_server()
    try:
        assert first.running and _config.resolve_backend().base_url == first.base_url
        first.stop()
        second = _config.embedded_server()
        assert second is not first and second.running
        snb.configure(reset=True, cache_dir=tmp_path)
        assert _config.resolve_backend().base_url == second.base_url
        second.stop()
        snb.configure(reset=True, cache_dir=tmp_path)
        third = _config.embedded_server()
        assert third.running and third is not second
    finally:
        if _config._embedded is not None:
            _config._embedded.stop()
        _config._embedded = None


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"base_url": "ftp://host/v1"}, "base_url"),
    ({"base_url": 8000}, "base_url"),
    ({"api_key": ""}, "api_key"),
    ({"api_key": ["sk-x"]}, "api_key"),
    ({"cache_dir": 3}, "cache_dir"),
    ({"cache_dir": "a\x00b"}, "cache_dir"),
    ({"profile": "veo"}, "profile"),
    ({"idempotent": "no"}, "idempotent"),
    ({"poll": "fast"}, "poll"),
    ({"reset": 1}, "reset"),
])
def test_configure_refuses_bad_values_and_changes_nothing(
    kwargs: dict[str, object], param: str, tmp_path: Path
) -> None:
    snb.configure(cache_dir=tmp_path, base_url="http://127.0.0.1:9/v1")
    before = repr(_config.settings)
    with pytest.raises(snb.SoraParameterError, match=rf"^{param}=") as info:
        snb.configure(backend="openai", **kwargs)  # type: ignore[arg-type]
    assert info.value.param == param
    assert repr(_config.settings) == before
    if param == "api_key":
        assert "sk-x" not in str(info.value)
    _config.reset_settings()


def test_profile_order_argument_configure_env_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert _config.resolve_backend().profile == "generic"
    monkeypatch.setenv("SORA_NB_PROFILE", "sora")
    assert _config.resolve_backend().profile == "sora"
    snb.configure(profile="generic")
    assert _config.resolve_backend().profile == "generic"  # configure() beats the env
    assert _config.resolve_backend(profile="sora").profile == "sora"  # the argument wins
    monkeypatch.setenv("SORA_NB_PROFILE", "veo")
    snb.configure(reset=True)
    with pytest.raises(snb.SoraParameterError) as info:
        _config.resolve_backend()
    assert info.value.param == "SORA_NB_PROFILE"
