# Two commands for a fresh Debian machine with Python 3.11:
#   make run   -- install everything, initialise an SQLite database with demo data, serve on :8080
#   make test  -- install everything, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080
SYSTEM_PACKAGES := fonts-wqy-microhei fonts-arphic-uming poppler-utils zbar-tools chromium sqlite3

.PHONY: run test install system-packages translations bench clean

run: install
	$(BIN)/permits init --demo
	@echo "管理员用户名 / admin user: admin   密码 / password: instance/admin_password.txt (or \$$PERMITS_ADMIN_PASSWORD)"
	@echo "访问 / open: http://$(HOST):$(PORT)/"
	$(BIN)/permits run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: system-packages $(VENV)/.installed translations

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "Please install the system packages first:"; \
	    echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml requirements.lock setup.py
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[test]'
	touch $@

translations: $(VENV)/.installed
	$(BIN)/python -c "from core.i18n import compile_catalogs; compile_catalogs(force=True)"

bench: install
	$(BIN)/python bench/numbering.py
	$(BIN)/python bench/certificates.py
	$(BIN)/python bench/import.py

clean:
	rm -rf $(VENV) build *.egg-info
