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
SURE_COL    ?=
COMMUNES    ?=
TITLE       ?=
SUBTITLE    ?=
SOURCE      ?=
FORCE       ?=
NAME        ?=
BENCH_ARGS  ?=
SHEET       ?=
SEP         ?=
ENCODING    ?=
RAW_CELLS   ?=
EXCEL_FR    ?=
N           ?=
# predict on Dask: `make predict INPUT='feeds/*.parquet' OUTPUT=out ENGINE=dask [SCHEDULER=host:8786] [WORKERS=4]`
ENGINE      ?=
SCHEDULER   ?=
WORKERS     ?=
DASK_STAMP  := $(VENV)/.installed-dask

# A variable's text never reaches the shell as code, nor make's expansion: each
# is read raw ($(value)), passed as one single-quoted word (a ' inside becomes
# '\''), and none is exported (make would expand it for the environment).
# `make -n predict INPUT='$$(touch x)'` shows it; tests/test_hostile_outputs.py runs it.
USER_VARS := EXTRA INPUT OUTPUT TEXT_COL RUN PREDICTIONS LABELED LABEL_COL DIGITAL_COL SURE_COL COMMUNES NAME BENCH_ARGS \
             SHEET SEP ENCODING RAW_CELLS TITLE SUBTITLE SOURCE FORCE N \
             ENGINE SCHEDULER WORKERS EXCEL_FR
unexport $(USER_VARS)
quote = '$(subst ','\'',$(1))'
# $(call opt,--flag,VAR): `--flag 'text of VAR'`, or nothing when VAR is empty
opt   = $(if $(value $(2)),$(1) $(call quote,$(value $(2))))
# $(call quoted_words,$(value VAR)): each word of VAR quoted alone (several files, several options)
quoted_words = $(foreach _w,$(1),$(call quote,$(_w)))
# $(call opts,--flag=VAR ...): `--flag 'text of VAR'` for each VAR set, one space apart (the VARs set are found
# first: a value's own spaces are kept). A recipe of many options then echoes one readable line, where
# backslash-newlines between $(call opt,...) echoed a `\` line for each line of options left empty.
opt_flag = $(firstword $(subst =, ,$(1)))
opt_var  = $(lastword $(subst =, ,$(1)))
opts_set = $(strip $(foreach _p,$(1),$(if $(value $(call opt_var,$(_p))),$(_p))))
opts     = $(foreach _o,$(call opts_set,$(1)),$(call opt,$(call opt_flag,$(_o)),$(call opt_var,$(_o))))
# $(call flag,--flag,VAR), for the yes/no variables (RAW_CELLS, EXCEL_FR, FORCE): `--flag` when VAR is 1, yes
# or true, nothing when it is empty, 0, no or false (any case); any other value stops make, naming VAR
# (`RAW_CELLS=0` must not switch the option on, as any non-empty value once did).
lower = $(subst A,a,$(subst B,b,$(subst C,c,$(subst D,d,$(subst E,e,$(subst F,f,$(subst G,g,$(subst H,h,$(subst \
        I,i,$(subst J,j,$(subst K,k,$(subst L,l,$(subst M,m,$(subst N,n,$(subst O,o,$(subst P,p,$(subst Q,q,$(subst \
        R,r,$(subst S,s,$(subst T,t,$(subst U,u,$(subst V,v,$(subst W,w,$(subst X,x,$(subst Y,y,$(subst Z,z,$(1)))))))))))))))))))))))))))
flag_value = $(call lower,$(strip $(value $(1))))
flag = $(if $(or $(word 2,$(value $(2))),$(filter-out 1 yes true 0 no false,$(call flag_value,$(2)))),$(error \
       $(2)=$(value $(2)): give 1, yes or true ($(1)), or 0, no, false or nothing (without it)),$(if \
       $(filter 1 yes true,$(call flag_value,$(2))),$(1)))
# $(call flags,--flag=VAR ...): those of the yes/no VARs switched on, one space apart
flags = $(strip $(foreach _p,$(1),$(call flag,$(call opt_flag,$(_p)),$(call opt_var,$(_p)))))

.DEFAULT_GOAL := help
.PHONY: help install install-dask lock lint train predict test bench clean
.PHONY: communes report evaluate
.PHONY: review audit review-simulation axe-core

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'
	@echo "  yes/no variables (RAW_CELLS, EXCEL_FR, FORCE): 1, yes, true or 0, no, false (any case); empty = no"

# The exact versions of requirements.lock (made from pyproject.toml's ranges by
# `make lock`), then the project itself: a model trained today loads next year.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the locked versions, the project and its model (fr_core_news_sm)

# The dask extra (requirements-dask.lock), installed only when ENGINE=dask is asked for: the default
# install stays small.
$(DASK_STAMP): $(STAMP) requirements-dask.lock
	$(PY) -m pip install --quiet -r requirements-dask.lock
	touch $(DASK_STAMP)

install-dask: $(DASK_STAMP) ## install the dask extra too (predict ENGINE=dask, its tests)

lock: $(STAMP) ## re-resolve requirements.lock and requirements-dask.lock from pyproject.toml's ranges (uv; needs the index)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --python-version 3.11 --quiet -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --extra dask --python-version 3.11 --quiet \
		-o requirements-dask.lock

lint: $(STAMP) ## ruff, configured in pyproject.toml
	$(VENV)/bin/ruff check pipeline tests bench

train: $(STAMP) ## train on data/labeled (EXTRA=../shared/data adds the sources of config/sources.toml)
	$(CLI) train $(call opt,--extra,EXTRA)

predict: $(STAMP) $(if $(filter dask,$(value ENGINE)),$(DASK_STAMP)) ## label INPUT (default: data/raw sample) into OUTPUT [TEXT_COL=col[,col]] [RUN=id] [SHEET SEP ENCODING RAW_CELLS=yes|no EXCEL_FR=yes|no] [ENGINE=dask [SCHEDULER=address] [WORKERS=n]]
	$(CLI) predict $(call opts,--input=INPUT --output=OUTPUT --text-col=TEXT_COL --run=RUN --sheet=SHEET --sep=SEP \
		--encoding=ENCODING --engine=ENGINE --scheduler=SCHEDULER --workers=WORKERS) $(call flags,--raw-cells=RAW_CELLS \
		--excel-fr=EXCEL_FR)

# The labeled file's variables are passed with or without LABELED, and EXTRA with it: evaluate refuses the
# options of the other mode (FORCE=yes, ignored, once started the long evaluation of every source; EXTRA was
# dropped with LABELED). RUN alone goes to evaluate-quantifier.
evaluate: $(STAMP) ## score every source within/across sources (EXTRA, default ../shared/data) and the latest model on data/eval/*.csv per split, or the model on LABELED=file [SHEET] [TEXT_COL] [LABEL_COL] [DIGITAL_COL] [SURE_COL] [FORCE=yes|no] [RUN=id]
	$(CLI) evaluate $(call opts,--labeled=LABELED --sheet=SHEET --text-col=TEXT_COL --label-col=LABEL_COL \
		--digital-col=DIGITAL_COL --sure-col=SURE_COL) $(call flags,--force=FORCE) $(if $(value LABELED), \
		$(call opts,--run=RUN --extra=EXTRA),$(if $(value EXTRA),$(call opt,--extra,EXTRA),--extra ../shared/data))
	$(if $(value LABELED),,$(CLI) evaluate-quantifier $(call opt,--run,RUN))

communes: $(STAMP) ## install Etalab's commune reference and the départements' contours (npm, pinned, checksum verified) into data/external/
	$(CLI) fetch-communes

report: $(STAMP) $(if $(value PREDICTIONS),communes) ## write the barometer of PREDICTIONS (files or a glob) into reports/<NAME>/ [COMMUNES=csv] [TITLE=..] [SUBTITLE=..] [SOURCE=..] [FORCE=yes|no] [EXCEL_FR=yes|no]
	@$(if $(value PREDICTIONS),true,echo "usage: make report PREDICTIONS=data/predicted/file.parquet [NAME=name] [COMMUNES=csv] [TITLE=...] [SOURCE=...] [FORCE=yes]"; exit 2)
	$(CLI) report --predictions $(call quoted_words,$(value PREDICTIONS)) $(call opts,--name=NAME --communes=COMMUNES \
		--title=TITLE --subtitle=SUBTITLE --source=SOURCE) $(call flags,--force=FORCE --excel-fr=EXCEL_FR)

review: $(STAMP) ## write the N (200) rows of PREDICTIONS most worth reviewing into the workbook OUTPUT [TEXT_COL]
	@$(if $(and $(value PREDICTIONS),$(value OUTPUT)),true,echo "usage: make review PREDICTIONS=file OUTPUT=review.xlsx [N=200] [TEXT_COL=col]"; exit 2)
	$(CLI) review --predictions $(call quote,$(value PREDICTIONS)) --output $(call quote,$(value OUTPUT)) $(call opts,-n=N \
		--text-col=TEXT_COL)

audit: $(STAMP) ## training rows whose label the model contradicts, into OUTPUT (reports/audit.xlsx) [EXTRA=../shared/data]
	$(CLI) audit --output $(call quote,$(or $(value OUTPUT),reports/audit.xlsx)) $(call opt,--extra,EXTRA)

review-simulation: $(STAMP) ## the review loop measured on the hand-labeled DGCL titles (EXTRA, default ../shared/data), into reports/review-simulation/
	$(CLI) simulate-review --extra $(call quote,$(or $(value EXTRA),../shared/data))

axe-core: $(STAMP) ## install the pinned axe-core (npm, checksum verified) into .cache/ for the page's accessibility test
	$(PY) tests/axe_core.py

test: lint ## lint (ruff), then the test suite (real spaCy model, small data)
	$(PY) -m pytest -q

bench: $(STAMP) ## speed, memory and macro-F1 of train and predict, into bench/results.json [BENCH_ARGS=--quick]
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) bench/run.py $(call quoted_words,$(value BENCH_ARGS))

# The workbooks at the top of reports/ (make audit's reports/audit.xlsx, a review OUTPUT put there) are
# filled in by hand before they go to data/reviewed/: clean keeps them, and says so.
clean: ## remove generated models, predictions and reports (keeps .venv, data/reviewed/ and the workbooks reports/*.xlsx)
	rm -rf models/2* models/LATEST data/predicted
	test ! -d reports || find reports -mindepth 1 -maxdepth 1 ! -name '*.xlsx' -exec rm -rf {} +
	@kept="$$(find reports -maxdepth 1 -type f -name '*.xlsx' 2>/dev/null)"; test -z "$$kept" || \
		echo "kept (workbooks filled by hand; file them in data/reviewed/ or delete them):" $$kept
