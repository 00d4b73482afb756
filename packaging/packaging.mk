# Debian packaging targets (see packaging/README.md)
