# h2k build configuration.  Override on the command line:
#   make PREFIX=/usr DESTDIR=/tmp/stage install

# The version is not set here: build-aux/version-gen prints it (git describe,
# or the VERSION file of a release tarball); `make version` shows it.
PREFIX  = /usr/local
BINDIR  = $(PREFIX)/bin
MANDIR  = $(PREFIX)/share/man
COMPLETIONDIR = $(PREFIX)/share/bash-completion/completions
DATADIR = $(PREFIX)/share/h2k
DOCDIR  = $(PREFIX)/share/doc/h2k
# Debian 12 keeps units in /lib/systemd/system (debian/rules says so).
SYSTEMDUNITDIR = $(PREFIX)/lib/systemd/system

CC      = gcc
PKG_CONFIG = pkg-config

# Every library the programs use, found through pkg-config.
PKGS    = libcurl libxml-2.0 libguestfs zlib libzstd libarchive openssl json-c

CFLAGS  = -O2 -g -std=gnu11 -Wall -Wextra -Wformat=2 -Wshadow -Wno-unused-parameter
LDFLAGS =
