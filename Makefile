.PHONY: demo test bench docs

demo:  ## score the bundled example pairs with every reward level
	python3 -m pip install --quiet -c constraints.txt -e . && himed-rewards demo

test:  ## the whole test suite (installs what it needs; see scripts/test.sh)
	bash scripts/test.sh

bench:  ## speed against the reference implementations (prints tables)
	python3 benchmarks/bench_metrics.py && python3 benchmarks/bench_reward.py

docs:
	python3 -m mkdocs build --strict
