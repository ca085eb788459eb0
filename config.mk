# h2k build configuration.  Override on the command line:
#   make PREFIX=/usr DESTDIR=/tmp/stage install

VERSION = 0.1.0
PREFIX  = /usr/local
BINDIR  = $(PREFIX)/bin
MANDIR  = $(PREFIX)/share/man
COMPLETIONDIR = $(PREFIX)/share/bash-completion/completions
UNITDIR = $(PREFIX)/lib/systemd/system
DATADIR = $(PREFIX)/share/h2k

CC      = gcc
PKG_CONFIG = pkg-config

# Every library the programs use, found through pkg-config.
PKGS    = libcurl libxml-2.0 libguestfs zlib libzstd libarchive openssl json-c

CFLAGS  = -O2 -g -std=gnu11 -Wall -Wextra -Wformat=2 -Wshadow -Wno-unused-parameter
LDFLAGS =
