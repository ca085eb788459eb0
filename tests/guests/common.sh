# Shared settings for the scripts in tests/guests/ (sourced, not run).
#
# Test guests are expensive to build (minutes), so they are built once and
# kept outside the repository in $H2K_GUEST_CACHE.  Every builder writes
# NAME.part and renames it to NAME only when the image is complete, so an
# interrupted build never leaves something that looks like a guest.

H2K_GUEST_CACHE=${H2K_GUEST_CACHE:-${H2K_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/h2k-tests}/guests}
export H2K_GUEST_CACHE

guests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# libguestfs only works with TCG on these machines (see docs/guests.md).
if [ "${H2K_TEST_KVM:-0}" != 1 ]; then
    export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
    export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
fi

guest_msg() { echo "${0##*/}: $*" >&2; }
guest_die() { guest_msg "$*"; exit 1; }

# The Debian mirror: $H2K_DEBIAN_MIRROR, else the first Debian archive
# named in the machine's own apt sources (one-line and deb822 formats),
# because that is the only network these machines have.
debian_mirror()
{
    if [ -n "${H2K_DEBIAN_MIRROR:-}" ]; then
        echo "$H2K_DEBIAN_MIRROR"; return 0
    fi
    local f u
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
             /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        u=$(awk '
            /^[ \t]*deb[ \t]/ {
                for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit }
            }
            /^URIs:/ { print $2; exit }' "$f" |
            grep -E '/debian/?$' | head -n1)
        if [ -n "$u" ]; then echo "${u%/}"; return 0; fi
    done
    return 1
}
