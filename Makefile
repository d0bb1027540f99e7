# The two commands of the README's quick start: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
IVR := $(VENV)/bin/ivr
PYTEST := $(VENV)/bin/pytest
INSTALLED := $(VENV)/.installed

.PHONY: run cluster test fuzz deps bench clean

run: deps
	$(IVR) asterisk up
	$(IVR) db upgrade
	@echo
	@echo "  The 12371 IVR is starting. In a second terminal place a call:"
	@echo "    $(IVR) call --from 055162345678 --to 12371 --keys 3,5,* --hangup-after 12"
	@echo "  or call sip:12371@127.0.0.1:$${IVR_SIP_PORT:-5060} from a softphone on this machine."
	@echo "  Admin web: http://127.0.0.1:$${IVR_HTTP_PORT:-8080}/admin/ (user admin; on first start its"
	@echo "    password is written to $${IVR_STATE_DIR:-~/.local/state/ivr12371}/initial-admin-password)"
	@echo "  Ctrl-C stops the controller and Asterisk."
	@echo
	trap '$(IVR) asterisk down' EXIT; $(IVR) serve

# The multi-node shape on this machine (README "A cluster on one machine"):
# Kamailio on 127.0.0.1:5060, Asterisks on 127.0.0.2 and 127.0.0.3, two
# controllers (HTTP 8081, 8082) on PostgreSQL. `ivr cluster down` stops it.
cluster: deps
	scripts/setup-machine --for-tests
	scripts/ensure-postgres
	$(IVR) cluster up
	$(IVR) cluster status

test: deps
	scripts/setup-machine --for-tests
	scripts/ensure-postgres
	$(VENV)/bin/ruff check ivr tests benchmarks devtools
	$(VENV)/bin/mypy ivr devtools
	# The layers between ivr's packages: pyproject.toml's [tool.importlinter].
	$(VENV)/bin/lint-imports
	# Speaks every department's name once into the machine's render cache,
	# so each end-to-end platform's build only copies (and starts in time).
	$(IVR) prompts build
	# One test file per worker: an end-to-end file's platform stays in its worker.
	$(PYTEST) -ra -n 3 --dist loadfile

# The fuzz tests of make test with many more examples (HYPOTHESIS_PROFILE=fuzz,
# tests/conftest.py): the admin API from its OpenAPI document, routing, and
# the call flow under random callers. About 5 minutes; failures are kept in
# .hypothesis/ and tried first next time.
fuzz: deps
	scripts/ensure-postgres
	HYPOTHESIS_PROFILE=fuzz $(PYTEST) -ra -n 3 --dist loadfile --hypothesis-show-statistics \
		tests/test_fuzz_api.py tests/test_fuzz_flow.py tests/test_fuzz_routing.py tests/test_directory.py

bench: deps
	# The caller's time, from the built audio (issue 14), then call latency.
	$(IVR) prompts build
	$(VENV)/bin/python -m benchmarks.prompts
	# The recorder's CPU per call, SQLite and PostgreSQL (a few seconds).
	$(VENV)/bin/python -m benchmarks.recorder
	# The controller's own CPU per call against the fake ARI, nothing else on
	# the clock (3 rounds of 3000 calls at 50/s: about 4 minutes).
	$(VENV)/bin/python -m benchmarks.controller
	# Callers with RTP and # presses at 50, 100, 150 calls/s (4 s), then 600 at
	# once (20 s at 30/s), each run after 35 s of quiet: about 17 minutes.
	# Fewer: LATENCY_ARGS='--rates 50'; more: LATENCY_ARGS='--rates 200,250'.
	$(VENV)/bin/python -m benchmarks.latency $(LATENCY_ARGS)
	# One node against the cluster at 20 calls/s, and five controller kills
	# (Kamailio, two Asterisks, two controllers; about 5 minutes).
	$(VENV)/bin/python -m benchmarks.cluster

deps: $(INSTALLED)
	scripts/setup-machine

$(INSTALLED): pyproject.toml
	scripts/setup-machine
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .hypothesis
