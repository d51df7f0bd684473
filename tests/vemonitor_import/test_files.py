"""load_path: Imports merged as the daemon merges them, and only files inside the configuration folder."""

import os
from pathlib import Path

import pytest

from custom_components.vemonitor.vemonitor_import import (
    ERROR_KEYS,
    MAX_FILE_BYTES,
    ConfigImportError,
    ImportPlan,
    Place,
    SkippedItem,
    load_path,
    parse_text,
)

from .common import BASE, ENV

CONNECTORS = BASE[: BASE.index("appBlocks:")]
BLOCKS = BASE[BASE.index("appBlocks:") :]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A configuration folder with a root file importing its connectors, and a folder beside it."""
    folder = tmp_path / "config"
    (folder / "vemonitor").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "vm_appConnectors.yaml").write_text(CONNECTORS)
    write(folder, "vm_conf.yaml", "Imports:\n  - vm_appConnectors.yaml\n" + BLOCKS)
    write(folder, "vm_appConnectors.yaml", CONNECTORS)
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / "vemonitor" / name
    path.write_text(text)
    return path


def load(folder: Path, name: str = "vm_conf.yaml") -> ImportPlan:
    return load_path(Path("vemonitor") / name, folder, ENV)


def error_loading(folder: Path, path: Path | str) -> ConfigImportError:
    with pytest.raises(ConfigImportError) as caught:
        load_path(Path(path), folder, ENV)
    assert caught.value.key in ERROR_KEYS
    return caught.value


def where(error: ConfigImportError) -> tuple[str, str | None, int | None, str]:
    return error.key, error.file, error.line, error.path


def test_imports_merged(config: Path) -> None:
    plan = load(config)
    assert plan.files == ("vemonitor/vm_conf.yaml", "vemonitor/vm_appConnectors.yaml")
    assert plan.servers[0].where == Place("vemonitor/vm_appConnectors.yaml", 6, "appConnectors.redis.local")
    assert plan.outputs[0].where == Place("vemonitor/vm_conf.yaml", 13, "appBlocks[0].outputs.redis[0]")
    assert plan.skipped == ()


def test_imported_keys_replace_the_roots(config: Path) -> None:
    """dict.update, as the daemon: a top-level key of an imported file replaces the root's, whole."""
    write(config, "vm_conf.yaml", "Imports: [vm_appConnectors.yaml]\n" + BASE.replace("6379", "1234"))
    plan = load(config)
    assert plan.servers[0].port == 6379
    assert plan.servers[0].where.file == "vemonitor/vm_appConnectors.yaml"


def test_without_imports(config: Path) -> None:
    write(config, "single.yaml", BASE)
    write(config, "null_imports.yaml", "Imports:\n" + BASE)
    for name in ("single.yaml", "null_imports.yaml"):
        plan = load(config, name)
        assert plan.files == (f"vemonitor/{name}",)
        assert plan.outputs[0].where.file == f"vemonitor/{name}"


def test_path_forms(config: Path) -> None:
    """Relative to the folder, absolute inside it, through .. that stays inside, through a link inside."""
    (config / "link").symlink_to(config / "vemonitor")
    for path in (
        Path("vemonitor/vm_conf.yaml"),
        config / "vemonitor" / "vm_conf.yaml",
        Path("vemonitor/../vemonitor/vm_conf.yaml"),
        Path("link/vm_conf.yaml"),
    ):
        assert load_path(path, config, ENV).files[0] == "vemonitor/vm_conf.yaml"


def test_nested_imports_not_followed(config: Path) -> None:
    """An imported file's own Imports are not read (the daemon reads the root's only): skipped."""
    write(config, "vm_appConnectors.yaml", "Imports: [vm_more.yaml]\n" + CONNECTORS)
    plan = load(config)
    assert plan.skipped == (
        SkippedItem(
            "vemonitor/vm_appConnectors.yaml",
            Place("vemonitor/vm_appConnectors.yaml", 1, "Imports"),
            "nested_imports",
        ),
    )
    assert plan.files == ("vemonitor/vm_conf.yaml", "vemonitor/vm_appConnectors.yaml")


def test_errors_name_the_imported_file(config: Path) -> None:
    write(config, "vm_appConnectors.yaml", CONNECTORS.replace("port: 6379", "port: '6379'"))
    error = error_loading(config, "vemonitor/vm_conf.yaml")
    assert where(error) == (
        "not_a_number",
        "vemonitor/vm_appConnectors.yaml",
        8,
        "appConnectors.redis.local.port",
    )
    assert error.placeholders["file"] == "vemonitor/vm_appConnectors.yaml"


def test_main_file_refused(config: Path, tmp_path: Path) -> None:
    (config / "vemonitor" / "dir.yaml").mkdir()
    os.mkfifo(config / "vemonitor" / "fifo.yaml")
    (config / "vemonitor" / "loop.yaml").symlink_to(config / "vemonitor" / "loop.yaml")
    (config / "vemonitor" / "escape.yaml").symlink_to(tmp_path / "outside" / "vm_appConnectors.yaml")
    write(config, "conf.txt", BASE)
    cases = {
        "vemonitor/missing.yaml": "file_not_found",
        "vemonitor/dir.yaml": "file_not_found",
        "vemonitor/fifo.yaml": "file_not_found",
        "vemonitor/loop.yaml": "file_not_found",
        "../outside/vm_appConnectors.yaml": "outside_root",
        str(tmp_path / "outside" / "vm_appConnectors.yaml"): "outside_root",
        "vemonitor/escape.yaml": "outside_root",
        "/etc/passwd": "outside_root",
        "vemonitor/conf.txt": "bad_extension",
    }
    for path, key in cases.items():
        error = error_loading(config, path)
        assert where(error) == (key, path, None, ""), path
    assert error_loading(config, "vemonitor/conf.txt").placeholders["value"] == "'conf.txt'"


def test_missing_folder(tmp_path: Path) -> None:
    error = error_loading(tmp_path / "nowhere", "vm_conf.yaml")
    assert where(error) == ("file_not_found", (tmp_path / "nowhere").as_posix(), None, "")


@pytest.mark.parametrize(
    ("imports", "key", "line", "path", "value"),
    [
        (
            "[../../outside/vm_appConnectors.yaml]",
            "import_outside_root",
            1,
            "Imports[0]",
            "'../../outside/vm_appConnectors.yaml'",
        ),
        # Relative to the importing file's folder (config/vemonitor): ../outside is config/outside.
        ("[../outside/conf.yaml]", "import_not_found", 1, "Imports[0]", "'../outside/conf.yaml'"),
        ("[escape.yaml]", "import_outside_root", 1, "Imports[0]", "'escape.yaml'"),
        ("[missing.yaml]", "import_not_found", 1, "Imports[0]", "'missing.yaml'"),
        ("[fifo.yaml]", "import_not_found", 1, "Imports[0]", "'fifo.yaml'"),
        ("[vm_appConnectors.yaml, vm_conf.yaml]", "import_cycle", 1, "Imports[1]", "'vm_conf.yaml'"),
        ("[alias.yaml]", "import_cycle", 1, "Imports[0]", "'alias.yaml'"),
        ("\n  - vm_appConnectors.yaml\n  - conf.json", "bad_extension", 3, "Imports[1]", "'conf.json'"),
        ("[5]", "invalid_import", 1, "Imports[0]", "5"),
        ("['']", "invalid_import", 1, "Imports[0]", "''"),
        ("vm_appConnectors.yaml", "expected_list", 1, "Imports", None),
        ("[" + ", ".join(["vm_appConnectors.yaml"] * 11) + "]", "too_many_imports", 1, "Imports", None),
    ],
)
def test_imports_refused(
    config: Path, tmp_path: Path, imports: str, key: str, line: int, path: str, value: str | None
) -> None:
    os.mkfifo(config / "vemonitor" / "fifo.yaml")
    (config / "vemonitor" / "escape.yaml").symlink_to(tmp_path / "outside" / "vm_appConnectors.yaml")
    (config / "vemonitor" / "alias.yaml").symlink_to(config / "vemonitor" / "vm_conf.yaml")
    write(config, "vm_conf.yaml", f"Imports: {imports}\n" + BLOCKS)
    error = error_loading(config, "vemonitor/vm_conf.yaml")
    assert where(error) == (key, "vemonitor/vm_conf.yaml", line, path)
    assert error.placeholders.get("value") == value
    if key == "too_many_imports":
        assert error.placeholders["maximum"] == "10"


def test_ten_imports_are_enough(config: Path) -> None:
    write(config, "vm_conf.yaml", "Imports: [" + ", ".join(["vm_appConnectors.yaml"] * 10) + "]\n" + BLOCKS)
    assert len(load(config).files) == 11


@pytest.mark.parametrize(
    ("child", "key", "line", "path"),
    [
        (b"- appConnectors\n", "root_not_mapping", 1, ""),
        (b"# nothing\n", "empty_config", None, ""),
        (b"appConnectors: {}\nappConnectors: {}\n", "duplicate_key", 2, "appConnectors"),
        (b"appConnectors:\n  redis: \xff\n", "not_yaml", 2, ""),
        (b"appConnectors: [\n", "not_yaml", 2, ""),
    ],
)
def test_imported_file_refused(config: Path, child: bytes, key: str, line: int | None, path: str) -> None:
    (config / "vemonitor" / "vm_appConnectors.yaml").write_bytes(child)
    error = error_loading(config, "vemonitor/vm_conf.yaml")
    assert where(error) == (key, "vemonitor/vm_appConnectors.yaml", line, path)


def test_sizes(config: Path) -> None:
    """500,000 bytes a file and in all (the daemon's limits)."""
    padding = "#" * 99 + "\n"
    write(config, "big.yaml", BASE + padding * (MAX_FILE_BYTES // 100))  # just over
    error = error_loading(config, "vemonitor/big.yaml")
    assert where(error) == ("file_too_large", "vemonitor/big.yaml", None, "")
    assert error.placeholders["maximum"] == "500000"
    half = padding * (MAX_FILE_BYTES // 200)
    write(config, "vm_conf.yaml", "Imports: [vm_appConnectors.yaml]\n" + BLOCKS + half)
    write(config, "vm_appConnectors.yaml", CONNECTORS + half)
    error = error_loading(config, "vemonitor/vm_conf.yaml")
    assert where(error) == ("file_too_large", "vemonitor/vm_appConnectors.yaml", None, "")
    write(config, "vm_appConnectors.yaml", CONNECTORS)
    assert load(config).servers


def test_pasted_text_size() -> None:
    with pytest.raises(ConfigImportError) as caught:
        parse_text(BASE + "#" * MAX_FILE_BYTES, ENV)
    assert (caught.value.key, caught.value.file) == ("file_too_large", None)
