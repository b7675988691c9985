// bench/lab: the lab around the product — `cellgate-lab demo` and `cellgate-lab bench` run a
// whole cell of `cellgate run` processes on loopback (bench/lab/deploy) with synthetic traffic
// (bench/lab/synth, bench/lab/traffic) and report what happened. None of it is linked into
// the production `cellgate` binary (test repo.product_links_no_lab checks it).
//
// Exit codes are cellgate's (gateway/cli/cli.h, docs/CLI.md).
#pragma once

#include <cstdint>
#include <string>

#include "gateway/cli/cli.h"

namespace cg::lab {

using cli::exit_failed;
using cli::exit_io;
using cli::exit_ok;
using cli::exit_usage;

struct DemoOptions {
  std::uint64_t items = 20000;
  std::uint64_t seed = 1;
  std::size_t body_bytes = 1024;
  std::string policy = "gateway/policy/examples/il-policy.toml";
  std::string sy_policy = "gateway/policy/examples/sy-policy.toml";
  std::uint64_t link_bytes_per_s = 50'000'000;
  bool keep = false;  // keep the deployment folder (stores, logs) after a successful run
};

// `cellgate-lab demo`: runs the most complete pipeline that exists over synthetic traffic and
// prints what happened, every number measured.
int demo(const DemoOptions& options);

}  // namespace cg::lab
