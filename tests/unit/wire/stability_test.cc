// Pins the canonical bytes of fixed cases: an accidental change to a schema or to the canonical
// encoding changes what is signed and hashed, and must fail here loudly (STYLE.md habit 9).
// When a format change is intended, bump the format version and re-pin deliberately.
#include <gtest/gtest.h>

#include <string>

#include "gateway/common/hex.h"
#include "gateway/wire/wire.h"
#include "tests/support/items.h"

namespace cg {
namespace {

std::string canonical_hex_of_sample_item() {
  capnp::MallocMessageBuilder message;
  testing::fill_sample_item(message.initRoot<schema::Item>());
  auto canonical = wire::canonical(message.getRoot<schema::Item>().asReader());
  return to_hex(canonical.canonical_bytes());
}

std::string canonical_hex_of_fixed_header() {
  capnp::MallocMessageBuilder message;
  auto h = message.initRoot<schema::EnvelopeHeader>();
  h.setFormatVersion(1);
  h.setSuite(schema::Suite::MODERN);
  h.setOrigin("il-gw-1");
  static constexpr std::uint8_t key_id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  h.setKeyId(kj::arrayPtr(key_id, 8));
  h.setDestination("sy");
  h.setStream(7);
  h.setSeq(123456789);
  h.setTime(1'790'000'000'000'000'000);
  h.setPrecedence(schema::Precedence::FLASH);
  h.setKind(schema::Kind::DECONFLICTION);
  auto l = h.initReleaseLabel();
  l.setPolicyId("cell-2026");
  l.setClassification(1);
  l.initPermissive(1).set(0, "SY");
  l.setTlp(schema::Tlp::GREEN);
  h.setRulesVersion(42);
  static constexpr std::uint8_t rules_hash[4] = {0xde, 0xad, 0xbe, 0xef};
  h.setRulesHash(kj::arrayPtr(rules_hash, 4));
  h.setEpoch(3);
  return to_hex(wire::canonical(h.asReader()).canonical_bytes());
}

// Pinned on 2026-11-24 from format version 1.
constexpr const char* kSampleItemHex =
    "000000000300070001000200000000000000f323845bd718000042b518aad71819000000820000001d000000"
    "6200000020000000010003004d000000160000005c0000000100010065000000570000002d01000027000000"
    "101112131415161718191a1b1c1d1e1f696c2d736967696e742d310000000000020003000000000009000000"
    "520000000d0000000e000000110000001600000063656c6c2d32303236000000000000000100000022000000"
    "4f50530000000000050000001a000000050000001a000000494c000000000000555300000000000005000000"
    "62000000090000003a0000006169722d646566656e63650000000000626f7264657200000100000000000000"
    "000000000100000087a62513076aef140800000001000400010000000000000020000000010003004d000000"
    "5a000000510000002a010000610000004200000000000000000000005c00000001000300890000005a000000"
    "8d0000003a0100009d0000003a00000001000200000000000900000052000000000000000000000009000000"
    "1e00000063656c6c2d3230323600000000000000090000001a000000090000001a000000090000001a000000"
    "494c00000000000053590000000000005553000000000000746578742f706c61696e000000000000436f6e76"
    "6f79206f62736572766564206d6f76696e67206e6f72746820617420303630302e00000073756d6d61727900"
    "020003000000000009000000520000000d0000000e000000110000001600000063656c6c2d32303236000000"
    "0000000001000000220000004f50530000000000050000001a000000050000001a000000494c000000000000"
    "5553000000000000746578742f706c61696e0000000000004772696420333653205941203132333435203637"
    "3839302c2074776f206c61756e63686572732e0064657461696c000008000000000002000d00000082000000"
    "11000000420000001100000072000000150000007a000000736f757263652e63616c6c7369676e0052415645"
    "4e2d33007265706f72742e73657269616c000000494c2d323032362d3030303132330000";
constexpr const char* kFixedHeaderHex =
    "0000000006000500010001000700000015cd5b07000000000000f323845bd71804000200000000002a000000"
    "00000000030000000000000011000000420000001100000042000000110000001a0000001000000001000300"
    "2d00000022000000696c2d67772d310001020304050607087379000000000000010002000000000009000000"
    "520000000000000000000000090000000e00000063656c6c2d3230323600000000000000010000001a000000"
    "5359000000000000deadbeef00000000";

TEST(SchemaStability, SampleItemCanonicalBytes) {
  EXPECT_EQ(canonical_hex_of_sample_item(), kSampleItemHex);
}

TEST(SchemaStability, EnvelopeHeaderCanonicalBytes) {
  EXPECT_EQ(canonical_hex_of_fixed_header(), kFixedHeaderHex);
}

TEST(SchemaStability, CanonicalFormIsIndependentOfBuildOrder) {
  // Same content built in a different order (and with garbage left in the builder) must
  // canonicalise to the same bytes.
  capnp::MallocMessageBuilder message;
  auto item = message.initRoot<schema::Item>();
  item.initPortions(5);  // orphaned when replaced below
  item.setSource("garbage to be replaced");
  testing::fill_sample_item(item);
  auto hex = to_hex(wire::canonical(item.asReader()).canonical_bytes());
  EXPECT_EQ(hex, canonical_hex_of_sample_item());
}

}  // namespace
}  // namespace cg
