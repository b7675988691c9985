// Transforms: every kind, on the released item itself.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "gateway/wire/wire.h"
#include "tests/unit/policy/policy_fixture.h"

namespace cg::policy {
namespace {

using namespace cg::policy::testing;  // NOLINT(google-build-using-namespace)
using wire::view;

std::unique_ptr<const Policy> with_transform(const std::string& transform) {
  return must_parse(std::string(kHeader) +
                    "[[rule]]\nid = \"t\"\naction = \"release\"\n[rule.transform]\n" + transform);
}

class PolicyTransforms : public ::testing::Test {
 protected:
  void SetUp() override {
    message_ = std::make_unique<capnp::MallocMessageBuilder>();
    item_ = message_->initRoot<schema::Item>();
    cg::testing::fill_sample_item(item_);
  }
  // Decides towards us (which may see everything in the sample) and builds the result.
  schema::Item::Reader release(const Policy& policy, Decision& d) {
    d = decide(policy, item_.asReader(), "us");
    EXPECT_EQ(d.outcome, Outcome::release) << explain_text(policy, item_.asReader(), d);
    out_ = std::make_unique<capnp::MallocMessageBuilder>();
    auto root = out_->initRoot<schema::Item>();
    if (d.outcome == Outcome::release) build_released(policy, item_.asReader(), d, root);
    EXPECT_TRUE(wire::validate_item(root.asReader()).ok());
    return root.asReader();
  }
  std::unique_ptr<capnp::MallocMessageBuilder> message_, out_;  // capnp destructors may throw
  schema::Item::Builder item_{nullptr};
};

TEST_F(PolicyTransforms, DropPortionsByContentType) {
  auto p = with_transform("drop_content_types = [\"image/*\", \"application/pdf\"]\n");
  item_.getPortions()[1].setContentType("image/png");
  Decision d;
  auto r = release(*p, d);
  EXPECT_EQ(d.portions[1], Verdict::transform);
  EXPECT_TRUE(d.transforms & kDropPortions);
  ASSERT_EQ(r.getPortions().size(), 1u);
  EXPECT_EQ(view(r.getPortions()[0].getName()), "summary");
  EXPECT_EQ(r.getBanner().getClassification(), 1);  // rolled up from the summary alone
}

TEST_F(PolicyTransforms, DropPortionsAboveALevel) {
  auto p = with_transform("drop_above = \"RESTRICTED\"\n");
  Decision d;
  auto r = release(*p, d);
  EXPECT_EQ(d.portions[1], Verdict::transform);
  EXPECT_EQ(r.getPortions().size(), 1u);
}

TEST_F(PolicyTransforms, DropPortionsByCategoryOrCaveat) {
  auto p = with_transform("drop_labels_with = [\"EXERCISE\", \"OPS\"]\n");
  Decision d;
  release(*p, d);
  EXPECT_EQ(d.portions[0], Verdict::crosses);
  EXPECT_EQ(d.portions[1], Verdict::transform);  // OPS

  SetUp();
  item_.getPortions()[1].getLabel().initRestrictive(0);
  set_list(item_.getPortions()[1].getLabel().initCaveats(1), {"EXERCISE"});
  set_list(item_.getBanner().initCaveats(1), {"EXERCISE"});
  release(*p, d);
  EXPECT_EQ(d.portions[1], Verdict::transform);  // EXERCISE
}

TEST_F(PolicyTransforms, DroppingARequiredPortionBlocks) {
  auto p = with_transform("drop_content_types = [\"text/plain\"]\n");
  Decision d = decide(*p, item_.asReader(), "us");
  EXPECT_EQ(d.outcome, Outcome::block);
  EXPECT_EQ(d.reason, Reason::required_removed);
  EXPECT_EQ(d.transforms, 0u);  // nothing was applied: nothing crossed
}

TEST_F(PolicyTransforms, DropAttributesByNamePattern) {
  auto p = with_transform("drop_attributes = [\"*.callsign\"]\n");
  Decision d;
  auto r = release(*p, d);
  EXPECT_EQ(d.attributes[0], Verdict::transform);
  EXPECT_EQ(d.attributes[1], Verdict::crosses);
  EXPECT_TRUE(d.transforms & kDropAttributes);
  ASSERT_EQ(r.getAttributes().size(), 1u);
  EXPECT_EQ(view(r.getAttributes()[0].getName()), "report.serial");
}

TEST_F(PolicyTransforms, StripSourceIdentifiers) {
  auto p = with_transform("strip_source = true\n");
  Decision d;
  auto r = release(*p, d);
  EXPECT_TRUE(d.transforms & kStripSource);
  EXPECT_TRUE(d.changed);
  EXPECT_EQ(view(r.getSource()), "il");
  ASSERT_EQ(r.getAttributes().size(), 1u);  // source.callsign went with it
  EXPECT_EQ(view(r.getAttributes()[0].getName()), "report.serial");
}

// Metres between two E7 latitudes / longitudes at a latitude.
double lat_m(std::int64_t a, std::int64_t b) { return std::fabs(double(a - b)) / 1e7 * 111'320; }
double lon_m(std::int64_t a, std::int64_t b, double lat_deg) {
  return std::fabs(double(a - b)) / 1e7 * 111'320 * std::cos(lat_deg * M_PI / 180);
}

TEST_F(PolicyTransforms, CoarsenPointToGrid) {
  auto p = with_transform("coarsen_m = 1000\n");
  Decision d;
  auto r = release(*p, d);
  EXPECT_TRUE(d.transforms & kCoarsenArea);
  ASSERT_EQ(r.getArea().which(), schema::Area::POINT);
  const std::int32_t in_lat = item_.getArea().getPoint().getLatE7();
  const std::int32_t in_lon = item_.getArea().getPoint().getLonE7();
  const auto outp = r.getArea().getPoint();
  // Within one cell of the original, and not the original.
  EXPECT_LE(lat_m(in_lat, outp.getLatE7()), 500.5);
  EXPECT_LE(lon_m(in_lon, outp.getLonE7(), 32.1), 600);
  EXPECT_NE(in_lat, outp.getLatE7());

  // Points in the same cell become the same point: the position inside the cell is gone.
  const std::int32_t lat0 = outp.getLatE7(), lon0 = outp.getLonE7();
  item_.getArea().getPoint().setLatE7(in_lat + 1000);  // ~11 m north
  item_.getArea().getPoint().setLonE7(in_lon + 1000);
  r = release(*p, d);
  EXPECT_EQ(r.getArea().getPoint().getLatE7(), lat0);
  EXPECT_EQ(r.getArea().getPoint().getLonE7(), lon0);
}

TEST_F(PolicyTransforms, CoarsenCellsAreAtLeastTheGridSize) {
  auto p = with_transform("coarsen_m = 1000\n");
  Decision d;
  // Step north along a meridian: the coarsened latitude changes in steps of >= 1 km.
  std::set<std::int32_t> lats;
  for (int i = 0; i < 200; ++i) {
    item_.getArea().getPoint().setLatE7(321234567 + i * 500);  // 5.5 m steps over 1.1 km
    lats.insert(release(*p, d).getArea().getPoint().getLatE7());
  }
  // 1.1 km of travel touches at most 3 cells, each of them at least 1 km tall.
  ASSERT_GE(lats.size(), 2u);
  ASSERT_LE(lats.size(), 3u);
  for (auto it = std::next(lats.begin()); it != lats.end(); ++it) {
    EXPECT_GE(lat_m(*std::prev(it), *it), 999.0);
  }
  // Near the pole longitude cells widen; coordinates stay in range.
  item_.getArea().getPoint().setLatE7(899999999);
  item_.getArea().getPoint().setLonE7(1799999999);
  auto r = release(*p, d);
  EXPECT_LE(r.getArea().getPoint().getLatE7(), 900000000);
  EXPECT_LE(r.getArea().getPoint().getLonE7(), 1800000000);
}

TEST_F(PolicyTransforms, CoarsenBoxWidensOutwards) {
  auto p = with_transform("coarsen_m = 1000\n");
  auto box = item_.getArea().initBox();
  box.getSouthWest().setLatE7(321234567);
  box.getSouthWest().setLonE7(351234567);
  box.getNorthEast().setLatE7(321534567);
  box.getNorthEast().setLonE7(351634567);
  Decision d;
  auto r = release(*p, d);
  ASSERT_EQ(r.getArea().which(), schema::Area::BOX);
  auto out = r.getArea().getBox();
  EXPECT_LE(out.getSouthWest().getLatE7(), 321234567);
  EXPECT_LE(out.getSouthWest().getLonE7(), 351234567);
  EXPECT_GE(out.getNorthEast().getLatE7(), 321534567);
  EXPECT_GE(out.getNorthEast().getLonE7(), 351634567);
  EXPECT_GE(lat_m(out.getSouthWest().getLatE7(), out.getNorthEast().getLatE7()), 999.0);
}

TEST_F(PolicyTransforms, NoAreaNothingToCoarsen) {
  auto p = with_transform("coarsen_m = 1000\n");
  item_.getArea().setNone();
  Decision d;
  auto r = release(*p, d);
  EXPECT_FALSE(d.transforms & kCoarsenArea);
  EXPECT_EQ(r.getArea().which(), schema::Area::NONE);
}

TEST_F(PolicyTransforms, ExplainedInTextAndJson) {
  auto p = with_transform("coarsen_m = 1000\nstrip_source = true\n");
  Decision d;
  release(*p, d);
  const std::string text = explain_text(*p, item_.asReader(), d);
  EXPECT_NE(text.find("transforms: drop_attributes strip_source coarsen_area (1000 m)"),
            std::string::npos)
      << text;
  const std::string json = explain_json(*p, item_.asReader(), d);
  EXPECT_NE(json.find(R"("transforms":["drop_attributes","strip_source","coarsen_area"])"),
            std::string::npos)
      << json;
}

}  // namespace
}  // namespace cg::policy
