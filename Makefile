# Two commands do all set-up on a fresh machine:
#   make demo   trains a tagger and a classifier on generated data and explains them
#   make test   runs the test suite
# Both create .venv and install the pinned dependencies on first use.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# The real conlleval.pl, which tests/test_evaluation_conlleval.py compares our span
# scores with; fetched from seqeval's sdist (see tests/conlleval_perl.py), not kept here.
CONLLEVAL := $(VENV)/share/conlleval/conlleval.pl

.PHONY: demo test lint bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e . || $(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rnnseq demo

$(CONLLEVAL): | $(STAMP)
	$(PY) tests/conlleval_perl.py --fetch $(CONLLEVAL)

test: $(STAMP) $(CONLLEVAL)
	$(PY) -m pytest -q -n 2

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .hypothesis
