// Limits of the releasability engine, each with its reason (STYLE.md habit 5).
// The item-side limits (portions, attributes, levels) are gateway/common/limits.h's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gateway/common/limits.h"

namespace cg::policy::limits {

// A policy file is read whole into memory and kept as its canonical bytes (what reviewers
// sign), so it is bounded like a rules bundle's payload.
inline constexpr std::size_t policy_bytes_max = cg::limits::policy_bytes_max;
// Rules are indexed, but validation compares rule pairs for shadowing (quadratic): 20,000
// keeps a load under a few seconds and is far above what reviewers can read.
inline constexpr std::size_t rules_max = 20'000;
// Deny terms and patterns compile into one Hyperscan database; 20,000 compiles in seconds.
inline constexpr std::size_t patterns_max = 20'000;
// Destinations are a bit set in each rule.
inline constexpr std::size_t destinations_max = 64;
// Lists inside one rule or destination (topics, categories, sources, content types...).
inline constexpr std::size_t list_entries_max = 1024;
// A regex or deny term: long enough for any realistic PII pattern, short enough to bound
// compile time per pattern.
inline constexpr std::size_t pattern_bytes_max = 4096;
// Coarsening grid: 1 m .. 1,000 km.
inline constexpr std::uint32_t coarsen_m_min = 1;
inline constexpr std::uint32_t coarsen_m_max = 1'000'000;

}  // namespace cg::policy::limits
