// Fuzz target: the records that cross the links beside envelopes (gateway/envelope records.cc)
// and the heads file operators exchange (gateway/recovery) — a published tree head and a stream
// head as a receiver reads them, and an export of heads. Each checked against a fixed trust
// root; hostile input must end in `malformed` or `unauthenticated`, never a crash; a verified
// published head must publish again into bytes that verify the same.
#include <cstdint>
#include <cstdlib>

#include "gateway/envelope/envelope.h"
#include "gateway/recovery/recovery.h"
#include "tests/support/fixed_cell.h"

namespace {
bool refused_properly(const cg::Status& s) {
  return s.code() == cg::Code::malformed || s.code() == cg::Code::unauthenticated;
}

void published(std::span<const std::uint8_t> bytes, const cg::testing::FixedCell& cell) {
  auto v = cg::envelope::verify_published_head(bytes, cell.root(), cell.suite());
  if (!v.ok()) {
    if (!refused_properly(v.status())) std::abort();
    return;
  }
  auto again = cg::envelope::published_head(cell.relay(), v->head, v->links);
  if (!again.ok()) std::abort();
  auto back = cg::envelope::verify_published_head(*again, cell.root(), cell.suite());
  if (!back.ok() || back->head.serial != v->head.serial || back->links.size() != v->links.size())
    std::abort();
  cg::recovery::HeadChain chain(cg::crypto::hasher_of(cell.suite()));
  (void)chain.add_published(*v, 0);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const cg::testing::FixedCell cell;
  const std::span<const std::uint8_t> in(data, size);
  published(in, cell);
  auto sh = cg::envelope::verify_stream_head(in, cell.root(), cell.suite());
  if (!sh.ok() && !refused_properly(sh.status())) std::abort();
  auto file = cg::recovery::parse_heads_export(in);
  if (!file.ok()) {
    if (file.status().code() != cg::Code::malformed) std::abort();
    return 0;
  }
  for (const auto& record : *file) published(record, cell);
  return 0;
}
