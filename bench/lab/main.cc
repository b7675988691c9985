// cellgate-lab: the lab beside the product (bench/lab/lab.h). `demo` and `bench` run a whole
// cell of `cellgate run` processes on loopback; this binary, not `cellgate`, carries the
// process launcher, the synthetic traffic and Google Benchmark. main() only parses arguments
// and hands over; each subcommand declares its own flags and options. No globals.
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "bench/lab/bench.h"
#include "bench/lab/lab.h"

namespace cg::lab {
namespace {

// As gateway/cli/commands.h: runs the subcommand if it was chosen (its exit code), else nullopt.
using CommandGroup = std::function<std::optional<int>()>;

CommandGroup add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* bench_cmd = app.add_subcommand(
      "bench", "Measure throughput on this machine: stages, baselines, the whole cell");
  bench_cmd->add_option("--policy", o->policy, "Policy for the stage benchmarks")
      ->check(CLI::ExistingFile);
  bench_cmd->add_option("--json", o->json, "Write the results as JSON here (\"\": none)");
  bench_cmd->add_option("--filter", o->filter, "Only micro-benchmarks matching this regex");
  bench_cmd->add_option("--min-time", o->min_time, "Seconds per micro-benchmark")
      ->check(CLI::Range(0.01, 60.0));
  bench_cmd->add_option("--items", o->e2e_items, "Items through the cell end to end")
      ->check(CLI::Range(1000, 100'000'000));
  bench_cmd->add_option("--body-bytes", o->body_bytes, "Text bytes per item (end to end)")
      ->check(CLI::Range(16, 524288));
  bench_cmd
      ->add_option("--growth-items", o->growth_items,
                   "Store growth up to this many items (0: skip; 10000000 for the goal)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{100'000'000}));
  bench_cmd->add_flag("!--no-micro", o->micro, "Skip the micro-benchmarks");
  bench_cmd->add_flag("!--no-cell", o->cell, "Skip the end-to-end runs");
  bench_cmd->add_flag("!--no-progress", o->progress, "No progress line");
  return [o, bench_cmd]() -> std::optional<int> {
    if (*bench_cmd) return bench(*o);
    return std::nullopt;
  };
}

CommandGroup add_demo_command(CLI::App& app) {
  auto o = std::make_shared<DemoOptions>();
  auto* demo_cmd = app.add_subcommand("demo", "Run the cell on synthetic traffic and report");
  demo_cmd->add_option("--items", o->items, "Items to send (half each way)")
      ->check(CLI::Range(1, 10'000'000));
  demo_cmd->add_option("--seed", o->seed, "Traffic seed");
  demo_cmd->add_option("--policy", o->policy, "The il policy the reviewers approve")
      ->check(CLI::ExistingFile);
  demo_cmd->add_option("--sy-policy", o->sy_policy, "The sy policy its reviewers approve")
      ->check(CLI::ExistingFile);
  demo_cmd->add_flag("--keep", o->keep,
                     "Keep the deployment folder (configs, stores, logs) after a successful run");
  demo_cmd->add_option("--link-rate", o->link_bytes_per_s, "Pacing of each link, bytes/s")
      ->check(CLI::Range(1'000'000, 1'000'000'000));
  demo_cmd->add_option("--body-bytes", o->body_bytes, "Text bytes per item")
      ->check(CLI::Range(16, 512 * 1024));
  return [o, demo_cmd]() -> std::optional<int> {
    if (*demo_cmd) return demo(*o);
    return std::nullopt;
  };
}

}  // namespace
}  // namespace cg::lab

int main(int argc, char** argv) {
  CLI::App app{"cellgate-lab — the cell on loopback: demonstration and benchmarks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cellgate-lab 0.1.0");

  const std::vector<cg::lab::CommandGroup> groups = {
      cg::lab::add_bench_command(app),
      cg::lab::add_demo_command(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : cg::lab::exit_usage;
  }
  for (const auto& group : groups) {
    if (std::optional<int> rc = group()) return *rc;
  }
  return cg::lab::exit_usage;
}
