cg_bench(policy_bench SOURCES policy_bench.cc DEPS cg_policy cg_synth)
