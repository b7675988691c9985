// JSON items: round trip with the Cap'n Proto form, and a specific error for each mistake.
#include <gtest/gtest.h>

#include <string>

#include "gateway/wire/wire.h"
#include "tests/support/items.h"

namespace cg {
namespace {

const char* kItem = R"({
  "id": "00112233445566778899aabbccddeeff",
  "source": "il-sigint-1",
  "kind": "deconfliction",
  "precedence": "flash",
  "created": "2026-11-24T12:30:05.25Z",
  "expires": "2026-11-25T12:30:05Z",
  "banner": {"policy": "cell-2026", "classification": 1, "rel_to": ["IL", "SY", "US"], "tlp": "amber"},
  "topics": ["airspace"],
  "area": {"box": [[31.5, 34.25], [32.0, 35.0]]},
  "portions": [
    {"name": "notice", "label": {"policy": "cell-2026", "classification": 1, "rel_to": ["IL", "SY", "US"], "tlp": "green"},
     "content_type": "text/plain", "required": true, "body": "Air corridor closed 0600-0800Z.\n"},
    {"name": "map", "label": {"policy": "cell-2026", "classification": 0, "rel_to": ["IL", "SY", "US"], "tlp": "clear"},
     "content_type": "image/png", "body_base64": "iVBORw0KGgo="}
  ],
  "attributes": {"notice.serial": "DC-17"}
})";

TEST(ItemJson, ParsesEveryField) {
  auto item = wire::item_from_json(kItem);
  ASSERT_TRUE(item.ok()) << item.status().to_string();
  auto r = item->root();
  EXPECT_EQ(r.getKind(), schema::Kind::DECONFLICTION);
  EXPECT_EQ(r.getPrecedence(), schema::Precedence::FLASH);
  EXPECT_EQ(r.getCreated(), 1'795'523'405'250'000'000);  // date -u -d 2026-11-24T12:30:05Z +%s
  EXPECT_EQ(r.getBanner().getTlp(), schema::Tlp::AMBER);
  ASSERT_TRUE(r.getArea().isBox());
  EXPECT_EQ(r.getArea().getBox().getSouthWest().getLonE7(), 342500000);
  EXPECT_EQ(r.getPortions()[1].getBody().size(), 8u);
  EXPECT_EQ(std::string(r.getAttributes()[0].getValue().cStr()), "DC-17");
}

TEST(ItemJson, RoundTripsThroughJson) {
  auto first = wire::item_from_json(kItem);
  ASSERT_TRUE(first.ok());
  std::string json = wire::item_to_json(first->root());
  auto second = wire::item_from_json(json);
  ASSERT_TRUE(second.ok()) << second.status().to_string() << "\n" << json;
  auto a = first->canonical_bytes(), b = second->canonical_bytes();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << json;
}

TEST(ItemJson, SampleItemRoundTrips) {
  capnp::MallocMessageBuilder message;
  testing::fill_sample_item(message.initRoot<schema::Item>());
  auto canonical = wire::canonical(message.getRoot<schema::Item>().asReader());
  auto back = wire::item_from_json(wire::item_to_json(canonical.root()));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  auto a = canonical.canonical_bytes(), b = back->canonical_bytes();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
}

std::string with(std::string_view from, std::string_view to) {
  std::string s = kItem;
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  s.replace(at, from.size(), to);
  return s;
}

struct JsonCase {
  const char* name;
  std::string json;
  const char* reason;
};

TEST(ItemJson, EachMistakeHasItsOwnReason) {
  const JsonCase cases[] = {
      {"unknown field", with("\"topics\"", "\"topic\""), "json: $.topic: unknown field"},
      {"bad kind", with("\"deconfliction\"", "\"gossip\""), "json: $.kind: unknown value 'gossip'"},
      {"bad tlp", with("\"tlp\": \"amber\"", "\"tlp\": \"purple\""),
       "json: $.banner.tlp: unknown value 'purple'"},
      {"local time", with("12:30:05.25Z", "12:30:05.25+02:00"),
       "json: $.created: time must end in Z (UTC)"},
      {"bad date", with("2026-11-24T", "2026-13-24T"), "json: $.created: time out of range"},
      {"short id", with("00112233445566778899aabbccddeeff", "0011"),
       "json: $.id: expected 32 hex digits"},
      {"label without policy",
       with("{\"policy\": \"cell-2026\", \"classification\": 0", "{\"classification\": 0"),
       "json: $.portions[1].label.policy: missing"},
      {"two bodies",
       with("\"body_base64\": \"iVBORw0KGgo=\"",
            "\"body_base64\": \"iVBORw0KGgo=\", \"body\": \"x\""),
       "json: $.portions[1].body: give one of body, body_base64"},
      {"bad base64", with("iVBORw0KGgo=", "!!!"), "json: $.portions[1].body_base64: not base64"},
      {"latitude out of range", with("[31.5, 34.25]", "[91.5, 34.25]"),
       "json: $.area.box[0][0]: coordinate out of range"},
      {"number as string",
       with("\"classification\": 1, \"rel_to\": [\"IL\", \"SY\", \"US\"], \"tlp\": \"amber\"",
            "\"classification\": \"1\", \"rel_to\": [\"IL\", \"SY\", \"US\"], \"tlp\": \"amber\""),
       "json: $.banner.classification: expected an integer"},
      {"structural rule",
       with("\"classification\": 0, \"rel_to\"", "\"classification\": 3, \"rel_to\""),
       "item.portions[1].label: not dominated by the banner"},
      {"not json", "{\"id\": ", "json: "},
  };
  for (const auto& c : cases) {
    auto r = wire::item_from_json(c.json);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), Code::malformed) << c.name;
    if (std::string(c.reason) == "json: ") {
      EXPECT_EQ(r.status().reason().rfind("json: ", 0), 0u)
          << c.name << ": " << r.status().reason();
    } else {
      EXPECT_EQ(r.status().reason(), c.reason) << c.name;
    }
  }
}

TEST(ItemJson, OversizedAndDeepInputsAreRefused) {
  std::string big(wire::item_json_bytes_max + 1, ' ');
  EXPECT_EQ(wire::item_from_json(big).status().reason(),
            "json: 4194305 bytes exceeds the limit of 4194304");
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = wire::item_from_json(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::malformed);
}

}  // namespace
}  // namespace cg
