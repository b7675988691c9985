// bench/lab/synth: deterministic synthetic traffic for the demo, benchmarks and tests.
//
// A Generator produces a realistic mix of items (every kind, precedence and label shape, text
// portions with and without deny terms, required and optional portions) from a seed: the same
// seed and options give the same items, byte for byte. It can also produce malformed inputs of
// named kinds, so a demo or test exercises the reject paths. Not thread-safe; use one per thread.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "schemas/item.capnp.h"

namespace cg::synth {

struct Options {
  std::uint64_t seed = 1;
  std::string policy_id = "cell-2026";
  std::string source = "il-src-1";
  std::size_t body_bytes = 1024;  // total text across portions, approximately
  std::int64_t now_ns = 1'790'000'000'000'000'000;
};

// What kind of malformed input to produce (for reject paths).
enum class Malformation : std::uint8_t {
  truncated,   // a valid item with its tail cut off
  bad_banner,  // a portion above the banner's level
  missing_id,  // id of the wrong length
  garbage,     // random bytes
};

class Generator final {
 public:
  explicit Generator(Options options);

  // Fills `item` with the next item of the mix.
  void next(schema::Item::Builder item);

  // The next item, serialised in standard framing.
  std::vector<std::uint8_t> next_bytes();

  // A malformed input of the given kind, serialised.
  std::vector<std::uint8_t> malformed_bytes(Malformation kind);

  std::uint64_t produced() const { return counter_; }

 private:
  std::string text_body(std::size_t bytes);

  Options options_;
  std::mt19937_64 rng_;
  std::uint64_t counter_ = 0;
};

}  // namespace cg::synth
