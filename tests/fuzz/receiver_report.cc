// Fuzz target: a receiver report (gateway/recovery) as a gateway or the other party's receiver
// reads it out of a gapReport item — decode, every structural rule and limit, the reporter's
// and the quoted tree head's signatures against a fixed trust root. Hostile input must end in
// `malformed` or `unauthenticated`, never a crash; an accepted report must sign again into one
// that verifies the same, and travel in an item that gives it back unchanged.
#include <cstdint>
#include <cstdlib>

#include "gateway/recovery/recovery.h"
#include "tests/support/fixed_cell.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const cg::testing::FixedCell cell;
  auto r = cg::recovery::verify_report({data, size}, cell.root(), cell.suite());
  if (!r.ok()) {
    if (r.status().code() != cg::Code::malformed && r.status().code() != cg::Code::unauthenticated)
      std::abort();
    return 0;
  }
  auto again = cg::recovery::sign_report(cell.receiver(), *r);
  if (!again.ok()) std::abort();
  auto back = cg::recovery::verify_report(*again, cell.root(), cell.suite());
  if (!back.ok() || back->gaps.size() != r->gaps.size() || back->head.has_value() != r->head.has_value())
    std::abort();
  auto item = cg::recovery::report_item(*again, {"sy-rx-1", "cell-2026", cell.now_ns,
                                                 std::vector<std::uint8_t>(16, 1)});
  if (!item.ok()) std::abort();
  auto decoded = cg::wire::decode_item(*item);
  if (!decoded.ok()) std::abort();
  auto inside = cg::recovery::report_of(decoded->root());
  if (!inside.ok() || !std::equal(inside->begin(), inside->end(), again->begin(), again->end()))
    std::abort();
  return 0;
}
