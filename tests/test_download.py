"""The MNIST downloader against a local HTTP server, and where MNIST is looked for.

The server runs on 127.0.0.1 (port 0) in a thread and serves tiny generated IDX
files; the matching md5 table is passed to the downloader. Nothing here touches
the network beyond 127.0.0.1 or the user's real cache.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from children import CEILING_S
from idx_files import md5_table, tiny_arrays, tiny_gz_files, write_files

import compare.data.download as download
import compare.data.mnist as mnist
import compare.data.mnist_files as mnist_files
from compare.data import DataError, load_dataset

FILES = tiny_gz_files()
MD5 = md5_table(FILES)
FIRST = next(iter(FILES))  # the file the downloader fetches first
TIMEOUT = 2.0  # seconds per connect or read; every request in this module is bounded by it

Action = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """Routes (URL path -> action) served on 127.0.0.1, and a log of the paths requested."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.routes: dict[str, Action] = {}
        self.requests: list[str] = []
        self.release = threading.Event()  # lets a stalled handler finish at teardown

    def mirror(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.port}/{prefix}/"

    def serve(self, prefix: str, action_for: Callable[[bytes], Action], names: list[str] | None = None) -> str:
        """Serve each tiny file (or only ``names``) under ``/prefix/`` through ``action_for(body)``."""
        for name in names or list(FILES):
            self.routes[f"/{prefix}/{name}"] = action_for(FILES[name])
        return self.mirror(prefix)


def ok(body: bytes) -> Action:
    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return act


def corrupt(body: bytes) -> Action:
    """The right length, one byte flipped: only the checksum can tell."""
    return ok(bytes([body[0] ^ 0xFF]) + body[1:])


def truncated(body: bytes) -> Action:
    """Announces the full length, sends half, closes the connection."""

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[: len(body) // 2])
        h.wfile.flush()
        h.close_connection = True

    return act


def status(code: int) -> Callable[[bytes], Action]:
    def action_for(body: bytes) -> Action:
        return lambda h: h.send_error(code)

    return action_for


@pytest.fixture
def server() -> Iterator[Server]:
    state: Server

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            action = state.routes.get(self.path)
            if action is None:
                self.send_error(404)
            else:
                action(self)

        def log_message(self, *args: object) -> None:  # no request log on stderr
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state = Server(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 that does not listen: connections to it are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No lookup variable leaks in (CI sets DLFS_MNIST_DIR), no proxy, HOME in tmp, no default mirror."""
    monkeypatch.setattr(mnist_files, "DEFAULT_MIRRORS", ())  # a test that forgets its mirrors fails, offline
    for name in (mnist_files.ENV_VAR, download.CACHE_ENV_VAR, "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def entries(directory: Path) -> set[str]:
    """Every name in ``directory``, hidden temporary files included."""
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def fetch(dest: Path, mirrors: list[str] | str, timeout: float = TIMEOUT) -> Path:
    return mnist_files.download_mnist(dest, mirrors, timeout, checksums=MD5, progress=False)


# --- the downloader ---------------------------------------------------------------


def test_good_checksums_files_land_and_load(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    assert fetch(dest, [server.serve("m1", ok)]) == dest
    assert entries(dest) == set(FILES)
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data
    ds = mnist.load_mnist(dest, verify=False)
    arrays = tiny_arrays()
    np.testing.assert_array_equal(ds.x_train, arrays["train_images"].reshape(5, 6) / 255.0)
    np.testing.assert_array_equal(ds.t_test, arrays["test_labels"])


def test_verified_files_are_not_fetched_again_and_a_bad_one_is_replaced(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    mirror = server.serve("m1", ok)
    fetch(dest, [mirror])
    assert len(server.requests) == len(FILES)
    (dest / FIRST).write_bytes(b"not the file")
    fetch(dest, [mirror])
    assert server.requests[len(FILES) :] == [f"/m1/{FIRST}"]
    assert (dest / FIRST).read_bytes() == FILES[FIRST]
    assert entries(dest) == set(FILES)


def test_bad_checksum_is_an_error_and_leaves_no_file(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match=f"could not download {FIRST}: every mirror failed.*checksum mismatch"):
        fetch(dest, [server.serve("m1", corrupt)])
    assert entries(dest) == set()


def test_a_bad_checksum_does_not_replace_a_file_already_there(server: Server, tmp_path: Path) -> None:
    dest = write_files(tmp_path / "cache", {FIRST: b"old"})
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(dest, [server.serve("m1", corrupt)])
    assert entries(dest) == {FIRST}
    assert (dest / FIRST).read_bytes() == b"old"


def test_truncated_transfer_is_an_error_and_leaves_no_file(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    n = len(FILES[FIRST])
    with pytest.raises(DataError, match=f"truncated transfer: received {n // 2} of {n} bytes"):
        fetch(dest, [server.serve("m1", truncated)])
    assert entries(dest) == set()


def test_truncated_transfer_moves_on_to_the_next_mirror(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    fetch(dest, [server.serve("m1", truncated), server.serve("m2", ok)])
    assert server.requests[:2] == [f"/m1/{FIRST}", f"/m2/{FIRST}"]
    assert entries(dest) == set(FILES)
    assert mnist.read_mnist_dir(dest).train_size == 5


@pytest.mark.parametrize("code", [500, 404, 403])
def test_http_error_moves_on_to_the_next_mirror(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    dest = tmp_path / "cache"
    fetch(dest, [server.serve("m1", status(code)), server.serve("m2", ok)])
    assert server.requests[:2] == [f"/m1/{FIRST}", f"/m2/{FIRST}"]
    assert entries(dest) == set(FILES)
    assert f"/m1/{FIRST}: HTTP {code} " in caplog.text and f"used {server.mirror('m2')}{FIRST}" in caplog.text


def test_progress_bars_name_each_file(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mnist_files.download_mnist(tmp_path / "cache", [server.serve("m1", ok)], TIMEOUT, checksums=MD5, progress=True)
    err = capsys.readouterr().err
    assert all(name in err for name in FILES)


def test_a_stalled_mirror_times_out_and_the_next_one_is_used(server: Server, tmp_path: Path) -> None:
    def stall(body: bytes) -> Action:
        return lambda h: server.release.wait(timeout=CEILING_S)  # answers nothing until teardown

    dest = tmp_path / "cache"
    # The timeout also bounds every read from the healthy mirror: 1 s leaves it room on a busy machine.
    fetch(dest, [server.serve("m1", stall, [FIRST]), server.serve("m2", ok)], timeout=1.0)
    assert server.requests[:2] == [f"/m1/{FIRST}", f"/m2/{FIRST}"]
    assert entries(dest) == set(FILES)


def test_no_server_is_one_clear_error(closed_port: int, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        fetch(dest, [f"http://127.0.0.1:{closed_port}/mnist/"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"could not download {FIRST}: every mirror failed (")
    assert "refused" in message.lower()
    assert entries(dest) == set()


def test_when_every_mirror_fails_each_is_named(server: Server, closed_port: int, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    mirrors = [server.serve("m1", status(500)), server.serve("m2", corrupt), f"http://127.0.0.1:{closed_port}/m3/"]
    with pytest.raises(DataError) as info:
        fetch(dest, mirrors)
    message = str(info.value)
    assert f"/m1/{FIRST}: HTTP 500" in message
    assert f"/m2/{FIRST}: checksum mismatch" in message
    assert f"/m3/{FIRST}: " in message
    assert entries(dest) == set()


def test_a_single_mirror_string_and_an_empty_list(server: Server, tmp_path: Path) -> None:
    fetch(tmp_path / "a", server.serve("m1", ok))  # one URL, not a list
    assert entries(tmp_path / "a") == set(FILES)
    assert download.fetch_verified(FIRST, MD5[FIRST], [], tmp_path / "a") == tmp_path / "a" / FIRST  # verified
    with pytest.raises(DataError, match="no mirrors"):
        download.fetch_verified(FIRST, MD5[FIRST], [], tmp_path)


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_local_failure_mid_transfer_leaves_no_temporary_file(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    def half_then_fail(url: str, out: BinaryIO, *settings: object) -> str:
        out.write(b"partial")
        raise failure

    monkeypatch.setattr(download, "_stream_to", half_then_fail)
    dest = tmp_path / "cache"
    expected = DataError if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        fetch(dest, [server.serve("m1", ok)])
    assert entries(dest) == set()


def test_a_malformed_mirror_url_is_passed_over(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "cache"
    fetch(dest, ["not a url", server.serve("m1", ok)])
    assert entries(dest) == set(FILES)


def test_a_file_url_mirror_works(tmp_path: Path) -> None:
    source = write_files(tmp_path / "source", FILES)
    dest = tmp_path / "cache"
    fetch(dest, [source.as_uri()])
    assert entries(dest) == set(FILES)


# --- where MNIST is looked for ------------------------------------------------------


def test_cache_root_dlfs_cache_dir_then_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert download.user_cache_dir() == tmp_path / "home" / ".cache" / "dlfs-compare"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert download.user_cache_dir() == tmp_path / "home" / ".cache" / "dlfs-compare"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download.user_cache_dir() == tmp_path / "xdg" / "dlfs-compare"
    assert mnist_files.mnist_cache_dir() == tmp_path / "xdg" / "dlfs-compare" / "mnist"
    monkeypatch.setenv(download.CACHE_ENV_VAR, str(tmp_path / "mine"))
    assert mnist_files.mnist_cache_dir() == tmp_path / "mine" / "mnist"
    assert mnist_files.mnist_cache_dir(tmp_path / "arg") == tmp_path / "arg" / "mnist"


def test_lookup_order_data_dir_then_env_then_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    given = write_files(tmp_path / "given", FILES)
    env = write_files(tmp_path / "env", FILES)
    cache = write_files(tmp_path / "root" / "mnist", FILES)
    monkeypatch.setenv(mnist_files.ENV_VAR, str(env))
    monkeypatch.setenv(download.CACHE_ENV_VAR, str(tmp_path / "root"))
    assert mnist_files.find_mnist_dir(given) == given
    assert mnist_files.find_mnist_dir() == env
    monkeypatch.delenv(mnist_files.ENV_VAR)
    assert mnist_files.find_mnist_dir() == cache
    other = write_files(tmp_path / "other" / "mnist", FILES)
    assert mnist_files.find_mnist_dir(cache_dir=tmp_path / "other") == other


def test_an_explicit_directory_is_never_passed_over(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A complete $DLFS_MNIST_DIR must not stand in for an incomplete --data-dir: a typo in the
    # option would otherwise silently train on other files.
    partial = write_files(tmp_path / "given", {FIRST: FILES[FIRST]})
    env = write_files(tmp_path / "env", FILES)
    monkeypatch.setenv(mnist_files.ENV_VAR, str(env))
    with pytest.raises(DataError, match="is missing train-labels-idx1-ubyte.gz") as err:
        mnist_files.find_mnist_dir(partial)
    assert str(partial) in str(err.value)
    with pytest.raises(DataError, match="does not exist"):
        mnist_files.find_mnist_dir(tmp_path / "typo")


def test_an_incomplete_env_directory_is_passed_over_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    partial = write_files(tmp_path / "env", {FIRST: FILES[FIRST]})
    cache_root = tmp_path / "root"
    write_files(mnist_files.mnist_cache_dir(cache_root), FILES)
    monkeypatch.setenv(mnist_files.ENV_VAR, str(partial))
    assert mnist_files.find_mnist_dir(cache_dir=cache_root) == mnist_files.mnist_cache_dir(cache_root)
    assert f"{partial} missing train-labels-idx1-ubyte.gz" in caplog.text


def test_raw_files_count_as_present(tmp_path: Path) -> None:
    import gzip

    raw = {name.removesuffix(".gz"): gzip.decompress(data) for name, data in FILES.items()}
    given = write_files(tmp_path / "given", raw)
    assert mnist_files.find_mnist_dir(given) == given
    assert mnist.load_mnist(given, verify=False).train_size == 5


def test_nothing_found_lists_every_place_and_the_remedies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    partial = write_files(tmp_path / "env", {FIRST: FILES[FIRST]})
    monkeypatch.setenv(mnist_files.ENV_VAR, str(partial))
    monkeypatch.setenv(download.CACHE_ENV_VAR, str(tmp_path / "root"))
    with pytest.raises(DataError) as info:
        mnist.load_mnist()
    message = str(info.value)
    assert "1. --data-dir: not set" in message
    assert f"2. ${mnist_files.ENV_VAR}: {partial} (missing " in message
    assert FIRST not in message.split("\n")[2]  # present, so not listed as missing
    assert "train-labels-idx1-ubyte.gz" in message.split("\n")[2]
    assert f"3. cache: {tmp_path / 'root' / 'mnist'} (does not exist)" in message
    assert "--download" in message and "--data-dir DIR" in message


@pytest.mark.parametrize("set_data_dir, set_env", [(True, True), (False, True), (False, False)])
def test_download_goes_to_the_first_place_that_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, set_data_dir: bool, set_env: bool
) -> None:
    targets = []

    def fake_download(dest_dir: Path, mirrors: object = None) -> Path:
        targets.append(Path(dest_dir))
        return write_files(Path(dest_dir), FILES)

    monkeypatch.setattr(mnist_files, "download_mnist", fake_download)
    if set_env:
        monkeypatch.setenv(mnist_files.ENV_VAR, str(tmp_path / "env"))
    data_dir = tmp_path / "given" if set_data_dir else None
    with pytest.raises(DataError):
        mnist_files.find_mnist_dir(data_dir, cache_dir=tmp_path / "root")
    assert targets == []
    found = mnist_files.find_mnist_dir(data_dir, download=True, cache_dir=tmp_path / "root")
    expected = data_dir or (tmp_path / "env" if set_env else tmp_path / "root" / "mnist")
    assert targets == [expected] and found == expected


def test_load_mnist_downloads_verifies_and_loads(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(mnist_files, "MNIST_MD5", MD5)  # the tiny files stand in for the real ones
    mirror = server.serve("m1", ok)
    monkeypatch.setattr(mnist_files, "DEFAULT_MIRRORS", (mirror,))  # load_dataset takes the default mirrors
    ds = load_dataset("mnist", download=True, cache_dir=str(tmp_path / "root"))
    assert (ds.train_size, ds.input_size, ds.x_test.shape[0]) == (5, 6, 3)
    assert entries(tmp_path / "root" / "mnist") == set(FILES)
    n_requests = len(server.requests)
    mnist.load_mnist(download=True, mirrors=[mirror], cache_dir=tmp_path / "root")
    assert len(server.requests) == n_requests  # found in the cache: nothing fetched
    assert n_requests == len(FILES)


def test_load_mnist_refuses_files_that_are_not_the_original(tmp_path: Path) -> None:
    given = write_files(tmp_path / "given", FILES)  # tiny files under the real names
    with pytest.raises(DataError, match=f"not the original MNIST files: {FIRST} has md5 {MD5[FIRST]}, expected "):
        mnist.load_mnist(given)
    assert mnist.load_mnist(given, verify=False).train_size == 5
