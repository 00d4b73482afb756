# vdispl-backend: build and install (vdispl/README.md). Included by the
# top-level Makefile; `make install` installs it with the library, and the
# Debian packaging (debian/, `make deb`) builds its package with the library's.
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR         ?= $(PREFIX)/share/doc/vdispl-backend
VDISPL_BIN     := $(TARGET_DIR)/release/vdispl-backend

.PHONY: vdispl-bin install-vdispl uninstall-vdispl
vdispl-bin:
	$(CARGO) build --release -p vdispl --bin vdispl-backend $(CARGO_TARGET_ARGS)

# The example configuration goes to DOCDIR: /etc is the administrator's.
install-vdispl: vdispl-bin
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)
	install -m 0755 $(VDISPL_BIN) $(DESTDIR)$(SBINDIR)/vdispl-backend
	sed -e 's|@SBINDIR@|$(SBINDIR)|' vdispl/dist/vdispl-backend.service > $(DESTDIR)$(SYSTEMDUNITDIR)/vdispl-backend.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/vdispl-backend.service
	install -m 0644 vdispl/dist/vdispl-backend.8 $(DESTDIR)$(MANDIR)/man8/vdispl-backend.8
	install -m 0644 vdispl/dist/vdispl-backend.conf $(DESTDIR)$(DOCDIR)/vdispl-backend.conf.example

uninstall-vdispl:
	rm -f $(DESTDIR)$(SBINDIR)/vdispl-backend $(DESTDIR)$(SYSTEMDUNITDIR)/vdispl-backend.service
	rm -f $(DESTDIR)$(MANDIR)/man8/vdispl-backend.8 $(DESTDIR)$(DOCDIR)/vdispl-backend.conf.example
