# shellcheck shell=bash
# Shared by the scripts in this folder: where the toolchain lives and how a command runs inside it.
#
# Two modes:
#   native  - $PYTHON, or a python3.14 >= 3.14.2 on PATH: virtual environments are made with it directly.
#   root    - otherwise (Debian/Ubuntu, as root): a private Debian sid root built with mmdebstrap holds
#             python3.14, redis-server and ser2net; every command runs in it through `unshare -m` + `chroot`, with the
#             checkout's parent folder, /dev (with /dev/pts), /proc, /sys and /tmp mounted in. Those mounts live
#             in the command's own mount namespace and vanish when it ends.

set -euo pipefail

VEM_TOP="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VEM_CACHE="${VEMONITOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vemonitor}"
# What the private root holds; any change here (or in the build recipe version) builds a new root.
VEM_ROOT_PACKAGES="python3.14,python3.14-venv,redis-server,ser2net,ca-certificates,tzdata,git"
VEM_ROOT_RECIPE="3"
VEM_MIN_PYTHON="3.14.2"

vem_log() { printf '[vemonitor] %s\n' "$*" >&2; }
vem_die() { printf '[vemonitor] error: %s\n' "$*" >&2; exit 1; }

vem_hash() { sha256sum | cut -c1-12; }

# Prints a python3.14 >= 3.14.2 usable natively, or nothing.
vem_native_python() {
    local candidate
    for candidate in "${PYTHON:-}" "$(command -v python3.14 2>/dev/null || true)"; do
        [ -n "$candidate" ] || continue
        if "$candidate" -c "import sys; sys.exit(0 if sys.version_info >= (3, 14, 2) else 1)" 2>/dev/null; then
            printf '%s\n' "$candidate"
            return 0
        fi
        if [ -n "${PYTHON:-}" ] && [ "$candidate" = "$PYTHON" ]; then
            vem_die "\$PYTHON=$PYTHON is not a Python >= $VEM_MIN_PYTHON"
        fi
    done
    return 0
}

VEM_NATIVE_PYTHON="$(vem_native_python)"
if [ -n "$VEM_NATIVE_PYTHON" ]; then
    VEM_MODE=native
    VEM_ROOT=""
    VEM_VENVS="$VEM_CACHE/venvs"
else
    VEM_MODE=root
    VEM_ROOT="$VEM_CACHE/root-$(printf '%s|%s' "$VEM_ROOT_PACKAGES" "$VEM_ROOT_RECIPE" | vem_hash)"
    VEM_VENVS="/opt/venvs"
fi

vem_lock() {
    mkdir -p "$VEM_CACHE"
    exec {VEM_LOCK_FD}>"$VEM_CACHE/.lock"
    flock "$VEM_LOCK_FD"
}

vem_unlock() { flock -u "$VEM_LOCK_FD"; }

vem_build_root() {
    [ "$VEM_MODE" = root ] || return 0
    [ -f "$VEM_ROOT/.vemonitor-root-ready" ] && return 0
    [ "$(id -u)" = 0 ] || vem_die "no Python >= $VEM_MIN_PYTHON found; set \$PYTHON, or run as root on Debian/Ubuntu to build the private root"
    [ -f /etc/debian_version ] || vem_die "no Python >= $VEM_MIN_PYTHON found and this is not Debian/Ubuntu; set \$PYTHON"
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        vem_log "installing mmdebstrap"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
    fi
    local tmp="$VEM_ROOT.tmp"
    rm -rf "$tmp"
    vem_log "building the private Debian root (python3.14, redis-server, ser2net) in $VEM_ROOT"
    # The mirror serves a sid Release file whose Valid-Until has passed.
    mmdebstrap --quiet --variant=minbase --include="$VEM_ROOT_PACKAGES" \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        sid "$tmp" http://deb.debian.org/debian >&2
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"
    cp /etc/ssl/certs/ca-certificates.crt "$tmp/etc/ssl/certs/ca-certificates.crt"
    mkdir -p "$tmp/opt/venvs"
    touch "$tmp/.vemonitor-root-ready"
    # Older roots (another package list) are dead weight.
    find "$VEM_CACHE" -maxdepth 1 -name 'root-*' ! -name "$(basename "$VEM_ROOT")*" -exec rm -rf {} +
    mv "$tmp" "$VEM_ROOT"
}

# Runs "$@" with cwd = the current folder, inside the root when there is one. Standard input passes through.
vem_exec() {
    if [ "$VEM_MODE" = native ]; then
        "$@"
        return
    fi
    local bind="$VEM_TOP"
    local parent
    parent="$(dirname "$VEM_TOP")"
    # The parent holds ../shared (captures, references) beside the checkout; never bind "/" itself.
    [ "$parent" != "/" ] && bind="$parent"
    local keep=()
    local name
    for name in TERM LANG CI COLUMNS VEMONITOR_REDIS_URL VEMONITOR_DEBUG PYTEST_ADDOPTS NO_COLOR FORCE_COLOR; do
        [ -n "${!name:-}" ] && keep+=("$name=${!name}")
    done
    unshare -m --propagation private -- /bin/bash -c '
        set -e
        root="$1" bind="$2" cwd="$3"; shift 3
        mount --rbind /dev "$root/dev"
        mount -t proc proc "$root/proc"
        mount --rbind /sys "$root/sys"
        mount --bind /tmp "$root/tmp"
        mkdir -p "$root$bind"
        mount --bind "$bind" "$root$bind"
        exec chroot "$root" /usr/bin/env -i "$@"
    ' vem "$VEM_ROOT" "$bind" "$PWD" \
        PATH="${VEM_PATH_PREFIX:-}/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" HOME=/root LC_ALL=C.UTF-8 \
        PYTHONDONTWRITEBYTECODE=1 "${keep[@]}" \
        /bin/sh -c 'cd "$0" && exec "$@"' "$PWD" "$@"
}

# The requirements file of environment $1 (current, floor, develop, bench).
vem_requirements() { printf '%s/requirements/%s.txt\n' "$VEM_TOP" "$1"; }

vem_venv_path() {
    local req
    req="$(vem_requirements "$1")"
    [ -f "$req" ] || vem_die "unknown environment '$1' (no $req)"
    printf '%s/%s-%s\n' "$VEM_VENVS" "$1" "$(cat "$req" "$VEM_TOP"/requirements/common*.txt 2>/dev/null | vem_hash)"
}

# Ensures the root (if any) and the virtual environment $1; prints the venv path.
vem_ensure_env() {
    local env="$1" venv req
    venv="$(vem_venv_path "$env")"
    req="$(vem_requirements "$env")"
    local host_venv="$VEM_ROOT$venv"
    if [ -f "$host_venv/.ready" ]; then
        printf '%s\n' "$venv"
        return 0
    fi
    vem_lock
    vem_build_root
    if [ ! -f "$host_venv/.ready" ]; then
        vem_log "creating the '$env' environment ($(basename "$venv"))"
        local py=python3.14
        [ "$VEM_MODE" = native ] && py="$VEM_NATIVE_PYTHON"
        rm -rf "$host_venv"
        # Older venvs of the same environment are replaced.
        find "$(dirname "$host_venv")" -maxdepth 1 -name "$env-*" -exec rm -rf {} + 2>/dev/null || true
        (cd "$VEM_TOP" && vem_exec "$py" -m venv "$venv" >&2)
        (cd "$VEM_TOP" && vem_exec "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --upgrade pip >&2)
        (cd "$VEM_TOP" && vem_exec "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$req" >&2)
        touch "$host_venv/.ready"
    fi
    vem_unlock
    printf '%s\n' "$venv"
}

# Runs "$@" in environment $1 (its bin first on PATH, then $VEM_EXTRA_BIN when set).
vem_run_in() {
    local env="$1" venv extra="${VEM_EXTRA_BIN:+$VEM_EXTRA_BIN:}"
    shift
    venv="$(vem_ensure_env "$env")"
    if [ "$VEM_MODE" = native ]; then
        PATH="$venv/bin:$extra$PATH" VIRTUAL_ENV="$venv" "$@"
    else
        VEM_PATH_PREFIX="$venv/bin:$extra" vem_exec "$@"
    fi
}
