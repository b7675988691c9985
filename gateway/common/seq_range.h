// SeqRange: an inclusive range of sequence numbers of one stream, the vocabulary shared by the
// receiver's dedupe window (gateway/deliver), which finds the gaps, and gap recovery
// (gateway/recovery), which reports and re-sends them. A plain value; thread-safe as any.
#pragma once

#include <cstdint>

namespace cg {

struct SeqRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

}  // namespace cg
