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
      {"bad date", with("2026-11-24T", "2026-13-24T"), "json: $.created: no such date"},
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

// Issue 15, class 2: a duplicate key at any depth refuses the item, naming the path. simdjson
// finds the first, most other readers the last: either way, one reader would see another item.
TEST(ItemJson, DuplicateKeysAreRefusedAtAnyDepth) {
  const JsonCase cases[] = {
      {"top level",
       with("\"kind\": \"deconfliction\"", "\"kind\": \"deconfliction\", \"kind\": \"incident\""),
       "json: $: duplicate key 'kind'"},
      {"banner", with("\"tlp\": \"amber\"}", "\"tlp\": \"amber\", \"tlp\": \"clear\"}"),
       "json: $.banner: duplicate key 'tlp'"},
      {"banner rel_to",
       with("\"rel_to\": [\"IL\", \"SY\", \"US\"], \"tlp\": \"amber\"",
            "\"rel_to\": [\"IL\", \"SY\", \"US\"], \"rel_to\": [\"IL\"], \"tlp\": \"amber\""),
       "json: $.banner: duplicate key 'rel_to'"},
      {"portion label",
       with("\"classification\": 0, \"rel_to\"",
            "\"classification\": 0, \"classification\": 0, \"rel_to\""),
       "json: $.portions[1].label: duplicate key 'classification'"},
      {"attributes",
       with("{\"notice.serial\": \"DC-17\"}",
            "{\"notice.serial\": \"DC-17\", \"notice.serial\": \"DC-18\"}"),
       "json: $.attributes: duplicate key 'notice.serial'"},
      {"area",
       with("{\"box\": [[31.5, 34.25], [32.0, 35.0]]}",
            "{\"box\": [[31.5, 34.25], [32.0, 35.0]], \"box\": [[0, 0], [1, 1]]}"),
       "json: $.area: duplicate key 'box'"},
  };
  for (const auto& c : cases) {
    auto r = wire::item_from_json(c.json);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().reason(), c.reason) << c.name;
  }
}

// Issue 15, class 3: NUL in any string would cut a name at it ("SY\u0000XX" → "SY").
TEST(ItemJson, NulInAnyStringIsRefused) {
  const JsonCase cases[] = {
      {"rel_to",
       with("[\"IL\", \"SY\", \"US\"], \"tlp\": \"amber\"",
            "[\"IL\", \"SY\\u0000XX\", \"US\"], \"tlp\": \"amber\""),
       "json: $.banner.rel_to[1]: contains NUL (\\u0000)"},
      {"source", with("\"il-sigint-1\"", "\"il\\u0000-sigint-1\""),
       "json: $.source: contains NUL (\\u0000)"},
      {"topic", with("[\"airspace\"]", "[\"air\\u0000space\"]"),
       "json: $.topics[0]: contains NUL (\\u0000)"},
      {"attribute name", with("\"notice.serial\"", "\"notice\\u0000serial\""),
       "json: $.attributes: a key contains NUL (\\u0000)"},
      {"attribute value", with("\"DC-17\"", "\"DC\\u0000-17\""),
       "json: $.attributes.notice.serial: contains NUL (\\u0000)"},
      {"portion name", with("\"name\": \"notice\"", "\"name\": \"no\\u0000tice\""),
       "json: $.portions[0].name: contains NUL (\\u0000)"},
      {"content type", with("\"text/plain\"", "\"text/plain\\u0000\""),
       "json: $.portions[0].content_type: contains NUL (\\u0000)"},
      {"policy",
       with("{\"policy\": \"cell-2026\", \"classification\": 1",
            "{\"policy\": \"cell\\u0000-2026\", \"classification\": 1"),
       "json: $.banner.policy: contains NUL (\\u0000)"},
      {"text body", with("0600-0800Z.\\n", "0600\\u0000-0800Z.\\n"),
       "json: $.portions[0].body: contains NUL (\\u0000)"},
  };
  for (const auto& c : cases) {
    auto r = wire::item_from_json(c.json);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().reason(), c.reason) << c.name;
  }
}

// A text body holding NUL still round-trips: it is written as body_base64.
TEST(ItemJson, TextBodyWithNulRoundTripsAsBase64) {
  auto first = wire::item_from_json(
      with("\"body\": \"Air corridor closed 0600-0800Z.\\n\"", "\"body_base64\": \"QQBC\""));
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  const std::string json = wire::item_to_json(first->root());
  EXPECT_NE(json.find("\"body_base64\":\"QQBC\""), std::string::npos) << json;
  auto second = wire::item_from_json(json);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
}

// Issue 15, class 3: impossible dates are refused, not rolled into the next month.
TEST(ItemJson, ImpossibleDatesAndTimesAreRefused) {
  for (const char* bad : {"2026-02-31T00:00:00Z", "2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
                          "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z"}) {
    auto r = wire::parse_rfc3339(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().reason(), "json: time: no such date") << bad;
  }
  for (const char* bad : {"2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z"}) {
    auto r = wire::parse_rfc3339(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().reason(), "json: time: no such time of day") << bad;
  }
  EXPECT_EQ(*wire::parse_rfc3339("2024-02-29T23:59:59.5Z"),
            1'709'251'199'500'000'000);  // date -d @...
  EXPECT_EQ(wire::format_rfc3339(1'709'251'199'500'000'000), "2024-02-29T23:59:59.500000000Z");
  EXPECT_FALSE(wire::parse_stix_timestamp("2026-01-01t00:00:00z").ok());
  EXPECT_TRUE(wire::parse_rfc3339("2026-01-01t00:00:00z").ok());
  auto item = wire::item_from_json(with("2026-11-25T12:30:05Z", "2026-02-31T12:30:05Z"));
  ASSERT_FALSE(item.ok());
  EXPECT_EQ(item.status().reason(), "json: $.expires: no such date");
}

// Issue 15, class 3: a Cap'n Proto item (from a source) with a NUL inside a Text is refused
// by the same validation, whatever field it is in.
TEST(ItemJson, CapnpItemWithNulInTextIsRefused) {
  const std::string nul("SY\0XX", 5);
  using Set = void (*)(schema::Item::Builder, const std::string&);
  const std::pair<const char*, Set> cases[] = {
      {"item.source",
       [](schema::Item::Builder i, const std::string& v) {
         i.setSource(capnp::Text::Reader(v.data(), v.size()));
       }},
      {"item.topics[0]",
       [](schema::Item::Builder i, const std::string& v) {
         i.initTopics(1).set(0, capnp::Text::Reader(v.data(), v.size()));
       }},
      {"item.banner.permissive[0]",
       [](schema::Item::Builder i, const std::string& v) {
         i.getBanner().initPermissive(1).set(0, capnp::Text::Reader(v.data(), v.size()));
       }},
      {"item.portions[0].name",
       [](schema::Item::Builder i, const std::string& v) {
         i.getPortions()[0].setName(capnp::Text::Reader(v.data(), v.size()));
       }},
      {"item.portions[0].contentType",
       [](schema::Item::Builder i, const std::string& v) {
         i.getPortions()[0].setContentType(capnp::Text::Reader(v.data(), v.size()));
       }},
      {"item.attributes[0].name",
       [](schema::Item::Builder i, const std::string& v) {
         i.getAttributes()[0].setName(capnp::Text::Reader(v.data(), v.size()));
       }},
      {"item.attributes[0].value",
       [](schema::Item::Builder i, const std::string& v) {
         i.getAttributes()[0].setValue(capnp::Text::Reader(v.data(), v.size()));
       }},
  };
  for (const auto& [path, set] : cases) {
    capnp::MallocMessageBuilder message;
    auto item = message.initRoot<schema::Item>();
    testing::fill_sample_item(item);
    ASSERT_TRUE(wire::validate_item(item.asReader()).ok());
    ASSERT_GT(item.getPortions().size(), 0u);
    ASSERT_GT(item.getAttributes().size(), 0u);
    set(item, nul);
    Status s = wire::validate_item(item.asReader());
    ASSERT_FALSE(s.ok()) << path;
    EXPECT_EQ(s.reason().rfind(path, 0), 0u) << s.reason();
    EXPECT_NE(s.reason().find("control characters"), std::string::npos) << s.reason();
  }
}

}  // namespace
}  // namespace cg
