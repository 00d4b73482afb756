# Top-level entry points. `make demo` and `make test` are the two commands the
# README gives; everything else is a building block.
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=
CARGO   ?= cargo

.PHONY: all lib test

all: lib

include rig/rig.mk
