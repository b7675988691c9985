// The keys of the roles' own tables (schemas/FORMATS.md, "Role tables"), pinned: a change of
// layout would orphan what a node stored before it, so it must fail here loudly.
#include "gateway/node/store_keys.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace cg::node {
namespace {

using Bytes = std::vector<std::uint8_t>;

TEST(StoreKeys, NameNumberIsTheNameAZeroByteAndBigEndianNumber) {
  const Bytes want = {'s', 'y', 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  EXPECT_EQ(name_number_key("sy", 0x0102030405060708ULL), want);
  EXPECT_EQ(epoch_key_of("sy", 0x0102030405060708ULL), want);
  EXPECT_EQ(bundle_seen_key_of("sy", 0x0102030405060708ULL), want);
  EXPECT_EQ(head_key_of("sy", 0x0102030405060708ULL), want);
  // Bytewise order is numeric order within one name.
  EXPECT_LT(epoch_key_of("il", 255), epoch_key_of("il", 256));
}

TEST(StoreKeys, MarkAndLoggedAndMetaKeys) {
  EXPECT_EQ(mark_key_of("sy"), (Bytes{'w', 'i', 'r', 'e', '/', 's', 'y'}));
  EXPECT_EQ(logged_key_of("a", "b", 0x01020304, 5),
            (Bytes{'a', 0, 'b', 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 5}));
  const auto k = text_key_of(meta_serial_reserved);
  EXPECT_EQ(Bytes(k.begin(), k.end()),
            (Bytes{'s', 'e', 'r', 'i', 'a', 'l', '_', 'r', 'e', 's', 'e', 'r', 'v', 'e', 'd'}));
  EXPECT_EQ(meta_last_head, "last_head");
  EXPECT_EQ(meta_checkpoint, "checkpoint");
}

}  // namespace
}  // namespace cg::node
