# Barometer of local digital public services: train, label, report.
# `make help` lists the targets. Every target installs the project into .venv first.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CLI    := $(PY) -m pipeline

# Options, e.g. `make train EXTRA=../shared/data`, `make predict INPUT=f.csv OUTPUT=out.csv TEXT_COL=intitule`
EXTRA       ?=
INPUT       ?=
OUTPUT      ?=
TEXT_COL    ?=
RUN         ?=
PREDICTIONS ?=
LABELED     ?=
LABEL_COL   ?=
DIGITAL_COL ?=
COMMUNES    ?=
NAME        ?=
BENCH_ARGS  ?=
# predict on Dask: `make predict INPUT='feeds/*.parquet' OUTPUT=out ENGINE=dask [SCHEDULER=host:8786] [WORKERS=4]`
ENGINE      ?=
SCHEDULER   ?=
WORKERS     ?=
DASK_STAMP  := $(VENV)/.installed-dask

opt = $(if $(2),$(1) "$(2)")

.DEFAULT_GOAL := help
.PHONY: help install train predict test bench clean
.PHONY: communes report evaluate

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The dask extra, installed only when ENGINE=dask is asked for: the default install stays small.
$(DASK_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,dask]'
	touch $(DASK_STAMP)

install: $(STAMP) ## create .venv and install the project and its model (fr_core_news_sm)

train: $(STAMP) ## train on data/labeled (EXTRA=../shared/data adds the sources of config/sources.toml)
	$(CLI) train $(call opt,--extra,$(EXTRA))

predict: $(STAMP) $(if $(filter dask,$(ENGINE)),$(DASK_STAMP)) ## label INPUT (default: data/raw sample) into OUTPUT [TEXT_COL=col[,col]] [RUN=id] [ENGINE=dask [SCHEDULER=address] [WORKERS=n]]
	$(CLI) predict $(call opt,--input,$(INPUT)) $(call opt,--output,$(OUTPUT)) \
		$(call opt,--text-col,$(TEXT_COL)) $(call opt,--run,$(RUN)) $(call opt,--engine,$(ENGINE)) \
		$(call opt,--scheduler,$(SCHEDULER)) $(call opt,--workers,$(WORKERS))

evaluate: $(STAMP) ## score every source within/across sources (EXTRA, default ../shared/data) or the model on LABELED=file [TEXT_COL] [LABEL_COL]
	$(CLI) evaluate $(if $(LABELED),--labeled "$(LABELED)" $(call opt,--text-col,$(TEXT_COL)) \
		$(call opt,--label-col,$(LABEL_COL)) $(call opt,--digital-col,$(DIGITAL_COL)) $(call opt,--run,$(RUN)),--extra "$(or $(EXTRA),../shared/data)")

communes: $(STAMP) ## install Etalab's commune reference (npm, pinned version, checksum verified) into data/external/
	$(CLI) fetch-communes

report: $(STAMP) communes ## write the barometer of PREDICTIONS (files or a glob) into reports/<NAME>/ [COMMUNES=csv]
	@test -n "$(PREDICTIONS)" || { echo "usage: make report PREDICTIONS=data/predicted/file.parquet [NAME=name] [COMMUNES=csv]"; exit 2; }
	$(CLI) report --predictions $(PREDICTIONS) $(call opt,--name,$(NAME)) $(call opt,--communes,$(COMMUNES))

test: $(STAMP) ## run the test suite (real spaCy model, small data)
	$(PY) -m pytest -q

bench: $(STAMP) ## speed, memory and macro-F1 of train and predict, into bench/results.json [BENCH_ARGS=--quick]
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) bench/run.py $(BENCH_ARGS)

clean: ## remove generated models, predictions and reports (keeps .venv)
	rm -rf models/2* models/LATEST data/predicted reports
