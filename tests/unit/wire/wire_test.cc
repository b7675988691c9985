// The untrusted-input boundary: every malformed item is rejected with its specific reason.
#include "gateway/wire/wire.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "bench/lab/synth/synth.h"
#include "tests/support/items.h"

namespace cg {
namespace {

using schema::Item;

std::vector<std::uint8_t> sample_bytes(const std::function<void(Item::Builder)>& mutate = {}) {
  capnp::MallocMessageBuilder message;
  auto item = message.initRoot<Item>();
  testing::fill_sample_item(item);
  if (mutate) mutate(item);
  return testing::flat_bytes(message);
}

TEST(DecodeItem, AcceptsSample) {
  auto bytes = sample_bytes();
  auto decoded = wire::decode_item(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  auto item = decoded->root();
  EXPECT_EQ(std::string(item.getSource().cStr()), "il-sigint-1");
  EXPECT_EQ(item.getPortions().size(), 2u);
}

TEST(DecodeItem, CanonicalBytesAreStableAcrossRoundTrip) {
  auto decoded = wire::decode_item(sample_bytes());
  ASSERT_TRUE(decoded.ok());
  auto again = wire::decode_item(wire::to_flat_bytes(*decoded));
  ASSERT_TRUE(again.ok());
  auto a = decoded->canonical_bytes();
  auto b = again->canonical_bytes();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
}

TEST(DecodeItem, CanonicalMessageCanBeReadRepeatedly) {
  // A traversal budget would make the 1000th read of a validated item throw far from the
  // boundary; canonical messages must not.
  auto decoded = wire::decode_item(sample_bytes());
  ASSERT_TRUE(decoded.ok());
  std::size_t total = 0;
  for (int i = 0; i < 100000; ++i) total += decoded->root().getPortions()[1].getBody().size();
  EXPECT_GT(total, 0u);
}

struct Case {
  const char* name;
  std::function<void(Item::Builder)> mutate;
  const char* reason;
};

void set_list(capnp::List<capnp::Text>::Builder list, std::initializer_list<const char*> values) {
  unsigned i = 0;
  for (const char* v : values) list.set(i++, v);
}

const Case kCases[] = {
    {"short id", [](Item::Builder i) { i.setId(kj::StringPtr("abc").asBytes()); },
     "item.id: must be 16 bytes, got 3"},
    {"missing source", [](Item::Builder i) { i.setSource(""); }, "item.source: empty"},
    {"long source", [](Item::Builder i) { i.setSource(std::string(200, 'x')); },
     "item.source: longer than 128 bytes"},
    {"control char in source", [](Item::Builder i) { i.setSource("bad\x1b[31m"); },
     "item.source: not UTF-8 or contains control characters"},
    {"invalid utf8 in source", [](Item::Builder i) { i.setSource("\xc0\xaf"); },
     "item.source: not UTF-8 or contains control characters"},
    {"unspecified kind", [](Item::Builder i) { i.setKind(schema::Kind::UNSPECIFIED); },
     "item.kind: unspecified"},
    {"unknown kind", [](Item::Builder i) { i.setKind(static_cast<schema::Kind>(99)); },
     "item.kind: unknown value"},
    {"unspecified precedence",
     [](Item::Builder i) { i.setPrecedence(schema::Precedence::UNSPECIFIED); },
     "item.precedence: unspecified"},
    {"unknown precedence",
     [](Item::Builder i) { i.setPrecedence(static_cast<schema::Precedence>(5)); },
     "item.precedence: unknown value"},
    {"zero created", [](Item::Builder i) { i.setCreated(0); }, "item.created: must be positive"},
    {"expires before created", [](Item::Builder i) { i.setExpires(i.getCreated() - 1); },
     "item.expires: not after item.created"},
    {"missing banner", [](Item::Builder i) { i.disownBanner(); }, "item.banner: missing"},
    {"empty policy id", [](Item::Builder i) { i.getBanner().setPolicyId(""); },
     "item.banner.policyId: empty"},
    {"classification out of range", [](Item::Builder i) { i.getBanner().setClassification(16); },
     "item.banner.classification: level 16 out of range"},
    {"unsorted categories",
     [](Item::Builder i) {
       set_list(i.getBanner().initRestrictive(2), {"b", "a"});
     },
     "item.banner.restrictive: not sorted and unique at entry 1"},
    {"duplicate REL TO",
     [](Item::Builder i) {
       set_list(i.getBanner().initPermissive(2), {"IL", "IL"});
     },
     "item.banner.permissive: not sorted and unique at entry 1"},
    {"empty caveat", [](Item::Builder i) { set_list(i.getBanner().initCaveats(1), {""}); },
     "item.banner.caveats[0]: empty"},
    {"too many categories",
     [](Item::Builder i) {
       auto l = i.getBanner().initRestrictive(65);
       for (unsigned k = 0; k < 65; ++k) l.set(k, "C" + std::to_string(1000 + k));
     },
     "item.banner.restrictive: more than 64 entries"},
    {"unknown tlp", [](Item::Builder i) { i.getBanner().setTlp(static_cast<schema::Tlp>(6)); },
     "item.banner.tlp: unknown value"},
    {"too many topics",
     [](Item::Builder i) {
       auto t = i.initTopics(65);
       for (unsigned k = 0; k < 65; ++k) t.set(k, "t");
     },
     "item.topics: too many"},
    {"empty topic", [](Item::Builder i) { i.getTopics().set(1, ""); }, "item.topics[1]: empty"},
    {"latitude out of range", [](Item::Builder i) { i.getArea().getPoint().setLatE7(900000001); },
     "item.area.point: coordinates out of range"},
    {"inverted box",
     [](Item::Builder i) {
       auto box = i.getArea().initBox();
       box.initSouthWest().setLatE7(10);
       box.initNorthEast().setLatE7(5);
     },
     "item.area.box: south-west corner is not below and left of north-east"},
    {"no portions", [](Item::Builder i) { i.initPortions(0); }, "item.portions: none"},
    {"too many portions",
     [](Item::Builder i) {
       auto ps = i.initPortions(257);
       for (unsigned k = 0; k < 257; ++k) {
         auto l = ps[k].initLabel();
         l.setPolicyId("cell-2026");
         ps[k].setContentType("text/plain");
       }
     },
     "item.portions: more than 256"},
    {"portion without label", [](Item::Builder i) { i.getPortions()[0].disownLabel(); },
     "item.portions[0].label: missing"},
    {"portion above banner level",
     [](Item::Builder i) { i.getPortions()[1].getLabel().setClassification(3); },
     "item.portions[1].label: not dominated by the banner"},
    {"portion with category banner lacks",
     [](Item::Builder i) { set_list(i.getPortions()[0].getLabel().initRestrictive(1), {"NUC"}); },
     "item.portions[0].label: not dominated by the banner"},
    {"portion with caveat banner lacks",
     [](Item::Builder i) { set_list(i.getPortions()[0].getLabel().initCaveats(1), {"ORCON"}); },
     "item.portions[0].label: not dominated by the banner"},
    {"portion with stricter TLP",
     [](Item::Builder i) { i.getPortions()[0].getLabel().setTlp(schema::Tlp::RED); },
     "item.portions[0].label: not dominated by the banner"},
    {"banner releasable wider than portion",
     [](Item::Builder i) {
       set_list(i.getBanner().initPermissive(3), {"IL", "SY", "US"});
     },
     "item.portions[1].label: not dominated by the banner"},
    {"banner without REL TO over portion with REL TO",
     [](Item::Builder i) { i.getBanner().initPermissive(0); },
     "item.portions[0].label: not dominated by the banner"},
    {"portion of another policy",
     [](Item::Builder i) { i.getPortions()[0].getLabel().setPolicyId("other"); },
     "item.portions[0].label: not dominated by the banner"},
    {"portion without content type", [](Item::Builder i) { i.getPortions()[0].setContentType(""); },
     "item.portions[0].contentType: empty"},
    {"portion name with newline", [](Item::Builder i) { i.getPortions()[0].setName("a\nb"); },
     "item.portions[0].name: not UTF-8 or contains control characters"},
    {"empty attribute name", [](Item::Builder i) { i.getAttributes()[0].setName(""); },
     "item.attributes[0].name: empty"},
    {"attribute value too long",
     [](Item::Builder i) { i.getAttributes()[1].setValue(std::string(16385, 'v')); },
     "item.attributes[1].value: too long"},
    {"attribute value with escape",
     [](Item::Builder i) { i.getAttributes()[1].setValue("x\x1b]0;pwned\x07"); },
     "item.attributes[1].value: not UTF-8 or contains control characters"},
    {"too many attributes",
     [](Item::Builder i) {
       auto a = i.initAttributes(257);
       for (unsigned k = 0; k < 257; ++k) a[k].setName("n");
     },
     "item.attributes: more than 256"},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class MalformedItem : public ::testing::TestWithParam<Case> {};

TEST_P(MalformedItem, RejectedWithSpecificReason) {
  const Case& c = GetParam();
  auto result = wire::decode_item(sample_bytes(c.mutate));
  ASSERT_FALSE(result.ok()) << c.name;
  EXPECT_EQ(result.status().code(), Code::malformed);
  EXPECT_EQ(result.status().reason(), c.reason) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedItem, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string n = info.param.name;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

TEST(DecodeItem, AcceptsValidMultibyteUtf8) {
  auto result = wire::decode_item(sample_bytes(
      [](Item::Builder i) { i.getAttributes()[1].setValue("קו גבול — خط الحدود\nline two"); }));
  EXPECT_TRUE(result.ok()) << result.status().to_string();
}

// --- Framing-level failures: the bytes never become an Item. -------------------------------

Status decode_raw(std::vector<std::uint8_t> bytes) { return wire::decode_item(bytes).status(); }

TEST(DecodeItemFraming, Empty) { EXPECT_EQ(decode_raw({}).reason(), "message: empty"); }

TEST(DecodeItemFraming, NotWordAligned) {
  auto bytes = sample_bytes();
  bytes.pop_back();
  EXPECT_EQ(decode_raw(bytes).reason(),
            "message: size " + std::to_string(bytes.size()) + " is not a multiple of 8 bytes");
}

TEST(DecodeItemFraming, Oversized) {
  std::vector<std::uint8_t> bytes(limits::item_bytes_max + 8);
  EXPECT_EQ(decode_raw(bytes).reason(),
            "message: " + std::to_string(bytes.size()) + " bytes exceeds the limit of 1048576");
}

TEST(DecodeItemFraming, TruncatedSegment) {
  auto bytes = sample_bytes();
  bytes.resize(bytes.size() - 16);
  Status s = decode_raw(bytes);
  EXPECT_EQ(s.code(), Code::malformed);
  EXPECT_NE(s.reason().find("message: "), std::string::npos);
}

TEST(DecodeItemFraming, TrailingBytes) {
  auto bytes = sample_bytes();
  bytes.insert(bytes.end(), 8, 0);
  EXPECT_EQ(decode_raw(bytes).reason(), "message: trailing bytes after the last segment");
}

TEST(DecodeItemFraming, HugeSegmentCount) {
  std::vector<std::uint8_t> bytes(16, 0);
  bytes[0] = 0xff;
  bytes[1] = 0xff;
  bytes[2] = 0xff;
  bytes[3] = 0x7f;  // 2^31 segments
  Status s = decode_raw(bytes);
  EXPECT_EQ(s.code(), Code::malformed);
}

TEST(DecodeItemFraming, RootPointerOutOfBounds) {
  // One segment of one word whose root struct pointer points far beyond the segment.
  std::vector<std::uint8_t> bytes = {0,    0,    0,    0,    1,    0,    0,    0,
                                     0xfc, 0xff, 0x00, 0x00, 0x02, 0x00, 0x03, 0x00};
  Status s = decode_raw(bytes);
  EXPECT_EQ(s.code(), Code::malformed);
  EXPECT_NE(s.reason().find("message: "), std::string::npos);
}

TEST(DecodeItemFraming, TraversalLimitIsApplied) {
  // The traversal budget is what stops pointer-aliasing amplification. With a budget smaller
  // than the item itself, decoding must fail inside Cap'n Proto and come back as a Status.
  capnp::MallocMessageBuilder message;
  testing::fill_sample_item(message.initRoot<Item>());
  auto bytes = testing::flat_bytes(message);
  wire::DecodeLimits tight{limits::item_bytes_max, 8};
  auto r = wire::decode_message<Item>(bytes, tight);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().reason().find("traversal limit"), std::string::npos) << r.status().reason();
}

TEST(DecodeItemFraming, NestingLimitIsApplied) {
  capnp::MallocMessageBuilder message;
  testing::fill_sample_item(message.initRoot<Item>());
  auto bytes = testing::flat_bytes(message);
  wire::DecodeLimits shallow{limits::item_bytes_max, limits::item_traversal_words_max, 2};
  auto r = wire::decode_message<Item>(bytes, shallow);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().reason().find("too deeply-nested"), std::string::npos)
      << r.status().reason();
}

TEST(DecodeItemFraming, EveryBitFlipIsHandled) {
  // Flipping any single bit must give either a clean error or an item that validates; never a
  // crash, sanitizer report or assertion.
  auto bytes = sample_bytes();
  std::size_t rejected_count = 0, accepted = 0;
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    auto copy = bytes;
    copy[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    auto r = wire::decode_item(copy);
    if (r.ok()) {
      ++accepted;
      EXPECT_TRUE(wire::validate_item(r->root()).ok());
    } else {
      ++rejected_count;
      EXPECT_EQ(r.status().code(), Code::malformed);
    }
  }
  EXPECT_EQ(accepted + rejected_count, bytes.size() * 8);
  EXPECT_GT(rejected_count, 0u);
}

// The one-pass canonical writer gives byte for byte what canonicalize + to_flat_bytes give,
// for built (non-canonical) messages of every shape the synthetic source makes.
TEST(Canonical, OnePassWriterEqualsCanonicalize) {
  synth::Generator gen({.seed = 5, .body_bytes = 700});
  for (int i = 0; i < 200; ++i) {
    capnp::MallocMessageBuilder mb(16);  // small first segment: the built message spans several
    gen.next(mb.initRoot<schema::Item>());
    const auto reader = mb.getRoot<schema::Item>().asReader();
    const auto reference = wire::canonical(reader);
    const auto raw = wire::canonical_bytes_of(reader, false);
    ASSERT_EQ(std::vector<std::uint8_t>(reference.canonical_bytes().begin(),
                                        reference.canonical_bytes().end()),
              raw)
        << "item " << i;
    ASSERT_EQ(wire::to_flat_bytes(reference), wire::canonical_bytes_of(reader, true))
        << "item " << i;
    auto back = wire::decode_canonical_item(raw);
    ASSERT_TRUE(back.ok()) << back.status().reason();
  }
}

}  // namespace
}  // namespace cg
