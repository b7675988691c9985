// The link's wire format: round trips, pinned bytes, MAC-first parsing, exact rejections.
#include "gateway/link/frame.h"

#include <gtest/gtest.h>

#include "gateway/common/hex.h"
#include "gateway/link/fec.h"
#include "gateway/link/limits.h"
#include "gateway/link/link.h"
#include "tests/sim/link_sim.h"
#include "tests/unit/link/harness.h"

namespace cg::link {
namespace {

using testing::test_key;

FrameHeader sample_header() {
  FrameHeader h;
  h.kind = FrameKind::data;
  h.index = 2;
  h.k = 3;
  h.m = 1;
  h.flags = frame_flag_flash;
  h.link_id = 7;
  h.settings_fp = 0xA1B2C3D4;
  h.session = 0x0102030405060708;
  h.block = 42;
  h.first_seq = 1000;
  h.count = 1;
  h.block_len = 20;  // k=3 fragments of 8: 16 < 20 <= 24
  return h;
}

std::vector<std::uint8_t> sample_frame(const crypto::Secret& key) {
  const std::vector<std::uint8_t> payload = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<std::uint8_t> out(frame_overhead_bytes + payload.size());
  EXPECT_EQ(write_frame(sample_header(), payload, key, out), out.size());
  return out;
}

TEST(LinkFrame, RoundTrip) {
  const auto key = test_key();
  const auto bytes = sample_frame(key);
  auto f = parse_frame(bytes, key, 1472);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const FrameHeader want = sample_header();
  EXPECT_EQ(f->header.kind, want.kind);
  EXPECT_EQ(f->header.index, want.index);
  EXPECT_EQ(f->header.k, want.k);
  EXPECT_EQ(f->header.m, want.m);
  EXPECT_EQ(f->header.flags, want.flags);
  EXPECT_EQ(f->header.payload_len, 8);
  EXPECT_EQ(f->header.link_id, want.link_id);
  EXPECT_EQ(f->header.settings_fp, want.settings_fp);
  EXPECT_EQ(f->header.session, want.session);
  EXPECT_EQ(f->header.block, want.block);
  EXPECT_EQ(f->header.first_seq, want.first_seq);
  EXPECT_EQ(f->header.count, want.count);
  EXPECT_EQ(f->header.block_len, want.block_len);
  EXPECT_EQ(to_hex(f->payload), "0102030405060708");
}

// Stability: an accidental change of the layout, the MAC or the key use fails here.
TEST(LinkFrame, PinnedBytes) {
  const auto key = test_key();
  EXPECT_EQ(to_hex(sample_frame(key)),
            "43474c46010102030101080007000000d4c3b2a10807060504030201"
            "2a00000000000000e803000000000000010000001400000001020304"
            "050607086e7cce79e69be290369051562714f435");
  Settings s;
  s.link_id = 7;
  EXPECT_EQ(settings_fingerprint(s), 0x4572116Du) << std::hex << settings_fingerprint(s);
}

TEST(LinkFrame, EveryBitFlipIsRejectedByTheMac) {
  const auto key = test_key();
  const auto good = sample_frame(key);
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    auto bad = good;
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    auto f = parse_frame(bad, key, 1472);
    ASSERT_FALSE(f.ok()) << "bit " << bit;
    EXPECT_EQ(f.status().code(), Code::unauthenticated) << "bit " << bit;
  }
}

TEST(LinkFrame, TruncatedOversizedAndWrongKey) {
  const auto key = test_key();
  const auto good = sample_frame(key);
  for (std::size_t len = 0; len < good.size(); ++len) {
    auto f = parse_frame(std::span(good).first(len), key, 1472);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(),
              len < frame_overhead_bytes ? Code::malformed : Code::unauthenticated)
        << len;
  }
  auto f = parse_frame(good, key, good.size() - 1);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().reason(), "oversized frame");
  const auto other = test_key(100);
  f = parse_frame(good, other, 1472);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::unauthenticated);
}

// Authentic (correctly MAC'd) frames with impossible headers are malformed, not crashes.
TEST(LinkFrame, AuthenticButStructurallyWrongHeaders) {
  const auto key = test_key();
  const std::vector<std::uint8_t> payload(8, 0);
  auto check = [&](FrameHeader h, const char* why) {
    std::vector<std::uint8_t> out(frame_overhead_bytes + payload.size());
    write_frame(h, payload, key, out);
    auto f = parse_frame(out, key, 1472);
    ASSERT_FALSE(f.ok()) << why;
    EXPECT_EQ(f.status().code(), Code::malformed) << why;
  };
  FrameHeader h = sample_header();
  h.k = 0;
  check(h, "k = 0");
  h = sample_header();
  h.index = 4;
  check(h, "index beyond k + m");
  h = sample_header();
  h.block_len = 16;
  check(h, "k not minimal");
  h = sample_header();
  h.block_len = 25;
  check(h, "block longer than k fragments");
  h = sample_header();
  h.block = 0;
  check(h, "block 0");
  h = sample_header();
  h.count = 0;
  check(h, "no entries");
  h = sample_header();
  h.flags = 0x80;
  check(h, "unknown flag");
  h = sample_header();
  h.kind = FrameKind::heartbeat;
  check(h, "heartbeat with data fields");
  h = sample_header();
  h.kind = static_cast<FrameKind>(9);
  check(h, "unknown kind");
  h = sample_header();
  h.block = block_number_limit;
  check(h, "block number at 2^63");
  h = sample_header();
  h.first_seq = UINT64_MAX;
  check(h, "sequence range wraps");
}

TEST(LinkFrame, BlockEntriesRoundTripAndRejectBadLayouts) {
  const auto a = testing::envelope_bytes(5, 30);
  const auto b = testing::envelope_bytes(6, 100);
  std::vector<std::uint8_t> block;
  ByteWriter w(block);
  write_entry(w, Entry{0, 30, 0, a});
  write_entry(w, Entry{entry_flag_flash, 100, 0, std::span(b).first(40)});
  BlockReader r(block, 2);
  auto e1 = r.next();
  ASSERT_TRUE(e1 && e1->whole());
  EXPECT_TRUE(std::equal(a.begin(), a.end(), e1->bytes.begin(), e1->bytes.end()));
  auto e2 = r.next();
  ASSERT_TRUE(e2);
  EXPECT_FALSE(e2->whole());
  EXPECT_EQ(e2->total_len, 100u);
  EXPECT_EQ(e2->bytes.size(), 40u);
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.status().ok());

  BlockReader too_many(block, 3);
  while (too_many.next()) {
  }
  EXPECT_EQ(too_many.status().code(), Code::malformed);
  BlockReader too_few(block, 1);
  while (too_few.next()) {
  }
  EXPECT_EQ(too_few.status().code(), Code::malformed);

  std::vector<std::uint8_t> outside;
  ByteWriter w2(outside);
  write_entry(w2, Entry{0, 10, 5, std::span(a).first(6)});  // 5 + 6 > 10
  BlockReader r2(outside, 1);
  EXPECT_FALSE(r2.next());
  EXPECT_EQ(r2.status().code(), Code::malformed);
}

TEST(LinkFrame, HeartbeatRoundTrip) {
  const auto key = test_key();
  Heartbeat hb;
  hb.settings.link_id = 3;
  hb.newest_block = 9;
  hb.history = {{100, 5}, {105, 1}, {200, 7}};
  std::vector<std::uint8_t> payload;
  write_heartbeat_payload(hb, payload);
  FrameHeader h;
  h.kind = FrameKind::heartbeat;
  h.block = 9;
  std::vector<std::uint8_t> out(frame_overhead_bytes + payload.size());
  write_frame(h, payload, key, out);
  auto f = parse_frame(out, key, 1472);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto back = parse_heartbeat(*f);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->settings, hb.settings);
  EXPECT_EQ(back->newest_block, 9u);
  ASSERT_EQ(back->history.size(), 3u);
  EXPECT_EQ(back->history[2].first_seq, 200u);
  EXPECT_EQ(back->history[2].count, 7u);
  EXPECT_EQ(heartbeat_history_capacity(1472), limits::heartbeat_history_max);
  EXPECT_EQ(heartbeat_history_capacity(512), (512u - 68 - 10) / 12);
}

TEST(LinkFec, AnyKOfKPlusMRestoresTheData) {
  sim::Rng rng(7);
  Fec fec;
  for (auto [k, m] : {std::pair{1, 1}, {3, 2}, {16, 4}, {64, 16}, {200, 55}}) {
    const std::size_t len = 33;
    std::vector<std::uint8_t> frags((k + m) * len);
    for (std::size_t i = 0; i < k * len; ++i) frags[i] = static_cast<std::uint8_t>(rng.next());
    fec.encode(k, m, len, frags);
    const auto original = frags;
    for (int trial = 0; trial < 20; ++trial) {
      auto damaged = original;
      std::vector<std::uint8_t> present(k + m, 1);
      for (int lost = 0; lost < m;) {  // lose exactly m fragments
        const auto i = rng.below(k + m);
        if (!present[i]) continue;
        present[i] = 0;
        std::fill_n(damaged.begin() + i * len, len, 0xEE);
        ++lost;
      }
      ASSERT_TRUE(fec.decode(k, m, len, damaged, present));
      EXPECT_TRUE(std::equal(original.begin(), original.begin() + k * len, damaged.begin()))
          << "k=" << k << " m=" << m;
    }
    std::vector<std::uint8_t> too_few(k + m, 0);
    for (int i = 0; i < k - 1; ++i) too_few[i] = 1;
    auto copy = original;
    EXPECT_FALSE(fec.decode(k, m, len, copy, too_few));
  }
}

TEST(LinkSettings, Validation) {
  Settings s;
  EXPECT_TRUE(validate(s).ok());
  s.datagram_bytes = 100;
  EXPECT_FALSE(validate(s).ok());
  s = Settings{};
  s.data_fragments = 200;
  s.parity_fragments = 100;
  EXPECT_FALSE(validate(s).ok());
  s = Settings{};
  s.data_fragments = 0;
  EXPECT_FALSE(validate(s).ok());
  Settings a, b;
  b.parity_fragments = 5;
  EXPECT_NE(settings_fingerprint(a), settings_fingerprint(b));
}

}  // namespace
}  // namespace cg::link
