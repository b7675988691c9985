// STIX 2.1 ⇄ items, over every OASIS sample bundle in tests/data/stix.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/stix/stix.h"

namespace cg::stix {
namespace {

Options options() {
  Options o;
  o.source = "il-cti-1";
  o.policy_id = "cell-2026";
  o.levels = {"UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"};
  o.now_ns = 1'790'000'000'000'000'000;
  return o;
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Structural JSON equality (object key order ignored).
bool same(simdjson::dom::element a, simdjson::dom::element b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object oa = a, ob = b;
      if (oa.size() != ob.size()) return false;
      for (auto [k, v] : oa) {
        simdjson::dom::element other;
        if (ob[k].get(other) != simdjson::SUCCESS || !same(v, other)) return false;
      }
      return true;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array aa = a, ab = b;
      if (aa.size() != ab.size()) return false;
      auto ib = ab.begin();
      for (auto ia = aa.begin(); ia != aa.end(); ++ia, ++ib) {
        if (!same(*ia, *ib)) return false;
      }
      return true;
    }
    default:
      return simdjson::minify(a) == simdjson::minify(b);
  }
}

std::vector<std::filesystem::path> samples() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(CG_TEST_DATA_DIR) + "/stix")) {
    if (e.path().extension() == ".json") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Stix, EveryOasisSampleRoundTripsOrIsRefusedWithTheObjectNamed) {
  auto files = samples();
  ASSERT_EQ(files.size(), 6u);
  std::size_t round_tripped = 0;
  for (const auto& f : files) {
    const std::string text = read(f);
    auto mapped = to_items(text, options());
    if (f.filename() == "interop-objectmarking-test.json") {
      // Its second marking reference is not a defined marking: refused, never guessed.
      ASSERT_FALSE(mapped.ok());
      EXPECT_EQ(mapped.status().reason(),
                "stix: object campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061: unknown marking "
                "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ec (not defined in the bundle)");
      continue;
    }
    ASSERT_TRUE(mapped.ok()) << f << ": " << mapped.status().to_string();
    simdjson::dom::parser parser;
    simdjson::dom::element original = parser.parse(text);
    simdjson::dom::array originals = original["objects"];
    ASSERT_EQ(mapped->items.size(), originals.size()) << f;
    std::size_t i = 0;
    for (simdjson::dom::element o : originals) {
      auto objects = from_item(mapped->items[i++].root(), options().levels);
      ASSERT_TRUE(objects.ok()) << objects.status().to_string();
      ASSERT_EQ(objects->size(), 1u);  // unmarked: no marking definitions to add
      simdjson::dom::parser p2;
      simdjson::dom::element back = p2.parse((*objects)[0]);
      EXPECT_TRUE(same(o, back)) << f << "\n" << simdjson::minify(o) << "\n" << (*objects)[0];
      ++round_tripped;
    }
  }
  EXPECT_EQ(round_tripped, 28u);  // every object of the five importable samples
}

const char* kMarked = R"({"type": "bundle", "id": "bundle--1d4f9b3a-5c1e-4e7a-9f0a-0c6a3f5e2b11", "objects": [
 {"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a001",
  "created": "2026-01-01T00:00:00.000Z",
  "extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21":
     {"extension_type": "property-extension", "classification": "SECRET", "rel_to": ["IL", "US"], "restrictive": ["OPS"]}}},
 {"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a002",
  "created": "2026-01-01T00:00:00.000Z", "definition_type": "statement", "definition": {"statement": "Copyright IL MoD"}},
 {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
  "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
  "name": "C2 relay", "description": "Seen by RAVEN-3 over the northern sector.",
  "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix", "valid_from": "2026-11-20T10:00:00Z",
  "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
                          "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a002"],
  "granular_markings": [{"marking_ref": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a001",
                         "selectors": ["description"]}]}
]})";

TEST(Stix, GranularMarkingsLabelTheirPropertyAlone) {
  auto mapped = to_items(kMarked, options());
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  EXPECT_EQ(mapped->marking_definitions, 2u);
  ASSERT_EQ(mapped->items.size(), 1u);
  auto item = mapped->items[0].root();
  // The envelope comes first, required, under the object's markings alone: the SECRET
  // description raises the banner, not what identifies the object.
  auto envelope = item.getPortions()[0];
  EXPECT_EQ(std::string(envelope.getName().cStr()), envelope_portion);
  EXPECT_TRUE(envelope.getRequired());
  EXPECT_EQ(envelope.getLabel().getClassification(), 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(envelope.getBody().begin()),
                        envelope.getBody().size()),
            R"({"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",)"
            R"("spec_version":"2.1","created":"2026-11-20T10:00:00.000Z",)"
            R"("modified":"2026-11-20T10:00:00.000Z"})");
  bool saw_description = false;
  for (auto p : item.getPortions()) {
    auto l = p.getLabel();
    EXPECT_EQ(l.getTlp(), schema::Tlp::GREEN) << p.getName().cStr();  // object-level TLP
    if (std::string(p.getName().cStr()) == "description") {
      saw_description = true;
      EXPECT_EQ(l.getClassification(), 3);
      ASSERT_EQ(l.getPermissive().size(), 2u);
      EXPECT_EQ(std::string(l.getRestrictive()[0].cStr()), "OPS");
      EXPECT_FALSE(p.getRequired());
    } else {
      EXPECT_EQ(l.getClassification(), 0) << p.getName().cStr();
      EXPECT_EQ(l.getPermissive().size(), 0u);
    }
    if (std::string(p.getName().cStr()) == "pattern") EXPECT_TRUE(p.getRequired());
  }
  EXPECT_TRUE(saw_description);
  // The banner is the roll-up: SECRET, OPS, REL TO IL/US, TLP green.
  EXPECT_EQ(item.getBanner().getClassification(), 3);
  EXPECT_EQ(item.getBanner().getTlp(), schema::Tlp::GREEN);
  bool statement = false;
  ASSERT_EQ(item.getAttributes().size(), 1u);  // only the statement: identity is a portion
  for (auto a : item.getAttributes()) {
    if (std::string(a.getName().cStr()) == "stix.statement") {
      statement = true;
      EXPECT_EQ(std::string(a.getValue().cStr()), "Copyright IL MoD");
    }
  }
  EXPECT_TRUE(statement);
  // Out again: the object carries exactly its release markings, defined alongside.
  auto out = from_item(item, options().levels);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_NE((*out)[0].find("\"object_marking_refs\":[\"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb\",\"marking-definition--"),
            std::string::npos)
      << (*out)[0];
  EXPECT_NE((*out)[1].find("\"classification\":\"SECRET\",\"restrictive\":[\"OPS\"],\"rel_to\":[\"IL\",\"US\"]"),
            std::string::npos)
      << (*out)[1];
  EXPECT_EQ((*out)[0].find("granular_markings"), std::string::npos);
  auto b = bundle(*out, "bundle--00000000-0000-4000-8000-000000000000");
  simdjson::dom::parser parser;
  simdjson::dom::element parsed;
  EXPECT_EQ(parser.parse(b).get(parsed), simdjson::SUCCESS) << b;
}

// A granular marking on an envelope property marks the envelope portion, and with it the
// whole object (it is required).
TEST(Stix, AGranularMarkingOnAnEnvelopePropertyMarksTheEnvelope) {
  std::string text = kMarked;
  const std::string sel = R"("selectors": ["description"])";
  text.replace(text.find(sel), sel.size(), R"("selectors": ["description", "created"])");
  auto mapped = to_items(text, options());
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  auto envelope = mapped->items[0].root().getPortions()[0];
  EXPECT_EQ(envelope.getLabel().getClassification(), 3);
  EXPECT_EQ(envelope.getLabel().getRestrictive().size(), 1u);
}

// STIX versions an object by (id, modified): a new version is a new item; the same version
// from two bundles is the same item (the gateway's inbox takes it once).
TEST(Stix, ItemIdsNameOneVersionOfOneObject) {
  const std::string v1 =
      R"({"type": "campaign", "spec_version": "2.1", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
          "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "x"})";
  std::string v2 = v1;
  v2.replace(v2.rfind("2026-01-01"), 10, "2026-02-01");
  auto a = to_items(v1, options()), b = to_items(v1, options()), c = to_items(v2, options());
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  auto id = [](const Result<Mapped>& m) {
    auto i = m->items[0].root().getId();
    return std::string(i.begin(), i.end());
  };
  EXPECT_EQ(id(a), id(b));
  EXPECT_NE(id(a), id(c));
}

TEST(Stix, MistakesNameTheObject) {
  struct Case {
    std::string json;
    const char* reason;
  } cases[] = {
      {R"({"type": "indicator", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.1", "name": "x", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"})",
       "stix: object indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: required property 'pattern' missing"},
      {R"({"type": "x-custom-thing", "id": "x-custom-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "name": "x"})",
       "stix: object x-custom-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: type 'x-custom-thing' is not supported"},
      {R"({"type": "campaign", "id": "campaign--nope", "name": "x"})",
       "stix: object of type campaign: missing or invalid id"},
      {R"({"type": "campaign", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.0", "name": "x"})",
       "stix: object campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: spec_version must be 2.1"},
      {R"({"type": "campaign", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "name": "x", "granular_markings": [{"marking_ref": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "selectors": ["aliases"]}]})",
       "stix: object campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: selector 'aliases' selects nothing"},
      {R"({"type": "campaign", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "name": "x", "stix.envelope": "y"})",
       "stix: object campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: property name 'stix.envelope' is not a STIX property name"},
      {R"({"type": "bundle", "id": "bundle--1", "objects": []})", "stix: stix: no objects to carry"},
      {"[1,2", "stix: "},
  };
  for (const auto& c : cases) {
    auto r = to_items(c.json, options());
    ASSERT_FALSE(r.ok()) << c.reason;
    EXPECT_EQ(r.status().code(), Code::malformed);
    if (std::string_view(c.reason) == "stix: ") {
      EXPECT_EQ(r.status().reason().rfind("stix: ", 0), 0u);
    } else {
      EXPECT_EQ(r.status().reason(), c.reason);
    }
  }
}

}  // namespace
}  // namespace cg::stix
