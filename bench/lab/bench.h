// `cellgate-lab bench`: throughput before deployment, every figure next to a baseline measured in
// the same run (bench.cc runs the scenarios; bench_stages.cc holds the micro-benchmarks).
#pragma once

#include <cstdint>
#include <string>

#include "gateway/common/status.h"

namespace cg::lab {

struct BenchOptions {
  std::string policy = "gateway/policy/examples/il-policy.toml";  // decisions in the micro part
  std::string json = "bench/out/cellgate-bench.json";             // "" = no JSON file
  std::string filter;     // Google Benchmark regex over the micro-benchmarks ("" = all)
  double min_time = 0.3;  // seconds per micro-benchmark
  bool micro = true;      // stage micro-benchmarks, floor, baselines
  bool cell = true;       // end to end through node processes (saturated, overload)
  std::uint64_t e2e_items = 60'000;
  std::size_t body_bytes = 1024;
  std::uint64_t growth_items = 1'000'000;  // store growth up to this (0 = skip; 10^6 for the goal)
  bool progress = true;                    // a progress line on stderr (only when it is a terminal)
};

// Exit 0 when every scenario ran and every end-to-end run lost nothing; 1 when a scenario
// failed or lost an item; 2/3 usage and I/O errors. Goals that are missed are reported, not
// an error: the figures are the product.
int bench(const BenchOptions& options);

namespace micro {
// Registers the micro-benchmarks with Google Benchmark (decisions under `policy_text`, which
// must name a destination "sy"). Errors: malformed.
Status register_micro(const std::string& policy_text);
// Forgets them and what they hold, once they have run.
void clear_micro();
}  // namespace micro

}  // namespace cg::lab
