// What the three roles share (gateway/node): the on-the-wire mark, rules bundle chunks and the
// rate-limited error log.
#include "gateway/node/node_common.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <vector>

namespace cg::node {
namespace {

TEST(WireMark, OnlyWhatIsBelowTheSendersUnsentFloorHasLeft) {
  WireMark m;
  EXPECT_EQ(m.on_wire(UINT64_MAX), 0u) << "nothing submitted";
  for (std::uint64_t seq = 1; seq <= 10; ++seq) m.submitted(seq + 100, seq);  // link seqs 101..110
  EXPECT_EQ(m.on_wire(104), 3u) << "link seq 104 (seq 4) not yet handed to the kernel";
  EXPECT_EQ(m.on_wire(111), 10u);
  // Link seqs 111..115 carry re-sends (not reported); 116.. first sends of 11..20.
  for (std::uint64_t seq = 11; seq <= 20; ++seq) m.submitted(seq + 105, seq);
  EXPECT_EQ(m.on_wire(118), 12u) << "re-sends in between do not count";
  m.submitted(200, 15);  // not above what was submitted: not a first send, ignored
  EXPECT_EQ(m.last_submitted(), 20u);
  EXPECT_EQ(m.on_wire(UINT64_MAX), 20u) << "an empty sender has sent everything submitted";
  EXPECT_EQ(m.on_wire(1), 20u) << "never decreases (a new session starts lower)";
}

TEST(BundleChunks, ReassembleInAnyOrderAndRefuseWhatDoesNotFit) {
  std::vector<std::uint8_t> bundle(5000);
  for (std::size_t i = 0; i < bundle.size(); ++i) bundle[i] = static_cast<std::uint8_t>(i * 7);
  auto chunks = bundle_chunks(bundle, 1000);
  ASSERT_EQ(chunks.size(), 6u);  // 952 bytes of data each
  BundleAssembler a;
  for (std::size_t i : {5u, 0u, 3u, 3u, 1u, 4u}) {
    auto r = a.add(chunks[i]);
    ASSERT_TRUE(r.ok()) << r.status().reason();
    EXPECT_FALSE(r->has_value());
  }
  auto done = a.add(chunks[2]);
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ(**done, bundle);
  // A chunk whose bytes were changed: the whole no longer matches its id.
  auto bad = chunks;
  bad[1][bundle_chunk_header_bytes + 5] ^= 1;
  BundleAssembler b;
  Status last;
  for (const auto& c : bad) {
    auto r = b.add(c);
    if (!r.ok()) last = r.status();
  }
  EXPECT_EQ(last.code(), Code::malformed);
  EXPECT_NE(last.reason().find("does not match its id"), std::string::npos);
  // Overlap, a length past the limit, a short record: each named.
  auto overlapping = chunks[1];
  overlapping[44] = static_cast<std::uint8_t>(overlapping[44] + 1);  // offset 953 overlaps 952
  BundleAssembler c;
  ASSERT_TRUE(c.add(chunks[1]).ok());
  EXPECT_NE(c.add(overlapping).status().reason().find("overlap"), std::string::npos);
  auto huge = chunks[0];
  huge[43] = 0x7f;
  EXPECT_NE(c.add(huge).status().reason().find("out of range"), std::string::npos);
  EXPECT_EQ(c.add(std::span(chunks[0]).first(20)).status().code(), Code::malformed);
  EXPECT_FALSE(is_bundle_chunk(std::vector<std::uint8_t>{0, 0, 0, 0, 1}));
}

TEST(ErrorLog, RepeatsWithinTenSecondsAreCountedNotPrinted) {
  ErrorLog log("n1");
  ::testing::internal::CaptureStderr();
  log.report("store full", 0);
  for (int i = 1; i <= 50; ++i) log.report("store full", i * 100'000'000LL);  // 5 s
  log.report("other", 6'000'000'000LL);
  log.report("other", 17'000'000'000LL);  // 11 s later: printed again
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out,
            "[n1] store full\n"
            "[n1] (the last error repeated 50 more times)\n"
            "[n1] other\n"
            "[n1] other\n");
}

}  // namespace
}  // namespace cg::node
