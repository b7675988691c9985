#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "gateway/cli/cli.h"
#include "gateway/synth/synth.h"
#include "gateway/wire/wire.h"

namespace cg::cli {

// Until the gateway, relay and receiver nodes exist (issue 7), the demo runs the part of the
// pipeline that is built: synthetic sources → the ingest decode boundary (size limits,
// Cap'n Proto limits, structural validation, canonical encoding). It says so in its output.
int demo(const DemoOptions& options) {
  std::printf("cellgate demo — pipeline stage available: ingest decode boundary\n");
  std::printf("(gateway/relay/receiver nodes are not built yet; nothing is sent anywhere)\n\n");

  synth::Generator gen({.seed = options.seed, .body_bytes = options.body_bytes});
  // One malformed input in every 50, cycling through the kinds of malformation.
  constexpr std::uint64_t malformed_every = 50;
  const synth::Malformation kinds[] = {
      synth::Malformation::truncated, synth::Malformation::bad_banner,
      synth::Malformation::missing_id, synth::Malformation::garbage};
  std::vector<std::vector<std::uint8_t>> inputs;
  inputs.reserve(options.items);
  std::uint64_t malformed_sent = 0;
  for (std::uint64_t i = 0; i < options.items; ++i) {
    if (i % malformed_every == malformed_every - 1) {
      inputs.push_back(gen.malformed_bytes(kinds[malformed_sent++ % 4]));
    } else {
      inputs.push_back(gen.next_bytes());
    }
  }

  std::uint64_t accepted = 0, bytes_in = 0, canonical_bytes = 0;
  std::map<std::string, std::uint64_t> rejected_by_reason;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    bytes_in += inputs[i].size();
    auto result = wire::decode_item(inputs[i]);
    if (result.ok()) {
      ++accepted;
      canonical_bytes += result->canonical_bytes().size();
    } else {
      // Group by the reason up to its first ':' after the field path, e.g. "item.id".
      const std::string& reason = result.status().reason();
      rejected_by_reason[reason.substr(0, reason.find(':'))]++;
    }
    if ((i + 1) % (options.items / 10 + 1) == 0 || i + 1 == inputs.size()) {
      std::fprintf(stderr, "\r  decoding: %zu / %zu", i + 1, inputs.size());
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "\n");

  std::uint64_t rejected_total = 0;
  for (const auto& [reason, count] : rejected_by_reason) rejected_total += count;
  std::printf("items in:            %llu (%llu bytes)\n",
              static_cast<unsigned long long>(inputs.size()),
              static_cast<unsigned long long>(bytes_in));
  std::printf("accepted:            %llu (canonical %llu bytes)\n",
              static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(canonical_bytes));
  std::printf("rejected malformed:  %llu (malformed inputs generated: %llu)\n",
              static_cast<unsigned long long>(rejected_total),
              static_cast<unsigned long long>(malformed_sent));
  for (const auto& [reason, count] : rejected_by_reason) {
    std::printf("  %-18s %llu\n", reason.c_str(), static_cast<unsigned long long>(count));
  }
  std::printf("decode throughput:   %.0f items/s, %.1f MB/s (one core, %.3f s)\n",
              static_cast<double>(inputs.size()) / secs, static_cast<double>(bytes_in) / secs / 1e6,
              secs);
  const bool adds_up =
      accepted + rejected_total == inputs.size() && rejected_total == malformed_sent;
  std::printf("check:               accepted + rejected = in, rejected = malformed generated: %s\n",
              adds_up ? "yes" : "NO");
  return adds_up ? exit_ok : exit_failed;
}

}  // namespace cg::cli
