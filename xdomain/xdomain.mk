# Two-domain real-Xen tests (xdomain/README.md). Included by the top-level Makefile.
.PHONY: xdomain-test xdomain-progs
xdomain-progs: lib
	$(MAKE) -C xdomain

xdomain-test: xdomain-progs
	xdomain/run.sh
