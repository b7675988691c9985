// The seed corpora of the receiver_report and link_records fuzz targets are made here, from
// the fixed keys of tests/support/fixed_cell.h (Ed25519 signs deterministically): this test
// pins them byte for byte and checks each is what a node accepts, so the fuzzers start from
// inputs that reach past every signature check. CG_WRITE_FUZZ_SEEDS=1 writes them anew (after
// a deliberate format change); the comparison runs either way.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "gateway/common/limits.h"
#include "gateway/recovery/recovery.h"
#include "tests/support/fixed_cell.h"

namespace cg::recovery {
namespace {

using Seeds = std::vector<std::pair<std::string, std::vector<std::uint8_t>>>;

void pin(const std::string& target, const Seeds& seeds) {
  const std::string dir = std::string(CG_SOURCE_DIR) + "/tests/fuzz/corpus/" + target + "/";
  for (const auto& [name, bytes] : seeds) {
    if (std::getenv("CG_WRITE_FUZZ_SEEDS")) {
      std::ofstream(dir + name, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
    }
    std::ifstream in(dir + name, std::ios::binary);
    ASSERT_TRUE(in) << dir + name << " missing: run with CG_WRITE_FUZZ_SEEDS=1";
    const std::vector<std::uint8_t> stored((std::istreambuf_iterator<char>(in)),
                                           std::istreambuf_iterator<char>());
    EXPECT_EQ(stored, bytes) << dir + name << " differs from what the format makes now";
  }
}

envelope::TreeHead head(const testing::FixedCell& cell, std::uint64_t serial, std::uint64_t size) {
  const crypto::Hash root(32, static_cast<std::uint8_t>(serial));
  return *envelope::sign_tree_head(cell.relay(), serial, size, root, cell.now_ns);
}

TEST(FuzzSeeds, ReceiverReports) {
  const testing::FixedCell cell;
  Report gaps;
  gaps.time_ns = cell.now_ns;
  gaps.gaps.push_back({{"il-gw-1", "sy", 0}, {{3, 5}, {9, 9}, {100, 164}}});
  Report gossip = gaps;
  gossip.gaps.clear();
  for (Report* r : {&gaps, &gossip}) r->head = QuotedHead{"us-relay", cell.relay().key_id, head(cell, 7, 40)};
  Report no_head = gaps;
  no_head.head.reset();
  Seeds seeds = {{"gaps-and-head", *sign_report(cell.receiver(), gaps)},
                 {"head-only", *sign_report(cell.receiver(), gossip)},
                 {"gaps-only", *sign_report(cell.receiver(), no_head)},
                 {"signed-by-a-gateway", *sign_report(cell.gateway(), gaps)}};
  for (std::size_t i = 0; i < 3; ++i) {
    auto v = verify_report(seeds[i].second, cell.root(), cell.suite());
    EXPECT_TRUE(v.ok()) << seeds[i].first << ": " << v.status().reason();
  }
  EXPECT_EQ(verify_report(seeds[3].second, cell.root(), cell.suite()).status().code(),
            Code::unauthenticated);
  pin("receiver_report", seeds);
}

TEST(FuzzSeeds, LinkRecords) {
  const testing::FixedCell cell;
  const std::vector<envelope::HeadLinkProof> links = {
      {3, 10, {crypto::Hash(32, 1), crypto::Hash(32, 2)}}, {1, 4, {crypto::Hash(32, 3)}}};
  auto first = *envelope::published_head(cell.relay(), head(cell, 1, 4), {});
  auto linked = *envelope::published_head(cell.relay(), head(cell, 4, 12), links);
  auto stream = *envelope::stream_head(cell.gateway(), "sy", 0, 1234, cell.now_ns);
  const std::vector<std::vector<std::uint8_t>> both = {first, linked};
  Seeds seeds = {{"published-head-first", first},
                 {"published-head-linked", linked},
                 {"stream-head", stream},
                 {"heads-export", export_heads(both)}};
  EXPECT_TRUE(envelope::verify_published_head(first, cell.root(), cell.suite()).ok());
  EXPECT_TRUE(envelope::verify_published_head(linked, cell.root(), cell.suite()).ok());
  EXPECT_TRUE(envelope::verify_stream_head(stream, cell.root(), cell.suite()).ok());
  auto file = parse_heads_export(seeds[3].second);
  ASSERT_TRUE(file.ok()) << file.status().reason();
  EXPECT_EQ(file->size(), 2u);
  pin("link_records", seeds);
}

// A published head carries at most head_links_max links, each proof at most
// consistency_proof_len_max hashes, each link from a serial below and a size not above its own.
TEST(PublishedHead, LinksAreBounded) {
  const testing::FixedCell cell;
  const auto h = head(cell, 100, 50);
  std::vector<envelope::HeadLinkProof> links;
  for (std::uint64_t i = 0; i < limits::head_links_max; ++i) links.push_back({i + 1, 10, {}});
  EXPECT_TRUE(envelope::published_head(cell.relay(), h, links).ok()) << "at the limit";
  links.push_back({99, 10, {}});
  EXPECT_EQ(envelope::published_head(cell.relay(), h, links).status().code(), Code::malformed);
  std::vector<envelope::HeadLinkProof> one = {
      {1, 10, std::vector<crypto::Hash>(limits::consistency_proof_len_max, crypto::Hash(32, 1))}};
  auto at = envelope::published_head(cell.relay(), h, one);
  ASSERT_TRUE(at.ok()) << "at the limit";
  EXPECT_TRUE(envelope::verify_published_head(*at, cell.root(), cell.suite()).ok());
  one[0].proof.push_back(crypto::Hash(32, 2));
  EXPECT_EQ(envelope::published_head(cell.relay(), h, one).status().code(), Code::malformed);
  EXPECT_EQ(envelope::published_head(cell.relay(), h, {{{100, 10, {}}}}).status().code(),
            Code::malformed)
      << "a link from its own serial";
  EXPECT_EQ(envelope::published_head(cell.relay(), h, {{{7, 51, {}}}}).status().code(),
            Code::malformed)
      << "a link from a larger tree";
  // A head signed by the gateway's key is not the relay's.
  auto forged = envelope::published_head(cell.gateway(), h, {});
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(envelope::verify_published_head(*forged, cell.root(), cell.suite()).status().code(),
            Code::unauthenticated);
}

// The export format's own limits and framing.
TEST(HeadsExport, RefusesWhatIsNotOne) {
  const std::vector<std::vector<std::uint8_t>> records = {{1, 2, 3}, {4}};
  auto file = export_heads(records);
  ASSERT_TRUE(parse_heads_export(file).ok());
  auto cut = file;
  cut.pop_back();
  EXPECT_EQ(parse_heads_export(cut).status().code(), Code::malformed) << "cut short";
  auto extra = file;
  extra.push_back(0);
  EXPECT_EQ(parse_heads_export(extra).status().code(), Code::malformed) << "bytes after";
  auto magic = file;
  magic[0] = 'X';
  EXPECT_EQ(parse_heads_export(magic).status().code(), Code::malformed);
  auto many = file;
  const std::uint32_t n = export_heads_max + 1;
  for (int i = 0; i < 4; ++i) many[8 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  EXPECT_EQ(parse_heads_export(many).status().code(), Code::malformed) << "over the count limit";
  std::vector<std::uint8_t> big = {'C', 'G', 'H', 'X', 1, 0, 0, 0, 1, 0, 0, 0};
  const std::uint32_t len = export_record_bytes_max + 1;
  for (int i = 0; i < 4; ++i) big.push_back(static_cast<std::uint8_t>(len >> (8 * i)));
  big.resize(big.size() + len);
  EXPECT_EQ(parse_heads_export(big).status().code(), Code::malformed) << "a record over its limit";
}

}  // namespace
}  // namespace cg::recovery
