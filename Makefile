.PHONY: run test setup bench
run:        ## set up and run Pult with the demo tenant
	scripts/run.sh
test:       ## set up and run the whole test suite
	scripts/test.sh
setup:
	scripts/setup.sh
bench:      ## run the benchmarks (figures go to the README)
	.venv/bin/python -m tests.bench
