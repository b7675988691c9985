// The link's logic over the seeded fault simulator: FEC against random and burst loss, exact
// loss reports, hostile datagrams counted exactly, FLASH, control records, back-pressure,
// sessions and settings. Every test names its seed in failures (SCOPED_TRACE).
#include "gateway/link/link.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/sim/link_sim.h"
#include "tests/unit/link/harness.h"

namespace cg::link {
namespace {

using testing::Collector;
using testing::envelope_bytes;
using testing::Loop;
using testing::seed_note;
using testing::small_size;

constexpr std::int64_t step_ns = ns_per_ms;

SenderOptions sender_options() {
  SenderOptions o;
  o.settings.link_id = 7;  // k = 64, m = 16: 25% parity
  o.pace_bytes_per_s = 100'000'000;
  o.session = 1000;
  return o;
}

ReceiverOptions receiver_options() {
  ReceiverOptions o;
  o.settings.link_id = 7;
  return o;
}

std::optional<Frame> peek(std::span<const std::uint8_t> d) {
  static const auto key = testing::test_key();
  auto f = parse_frame(d, key, limits::datagram_bytes_max);
  if (!f.ok()) return std::nullopt;
  return *f;
}

TEST(LinkSim, NoEnvelopeLostAtFivePercentRandomLoss) {
  sim::Faults faults;
  faults.seed = 20261125;
  faults.drop = 0.05;
  SCOPED_TRACE(seed_note(faults.seed));
  constexpr std::uint64_t n = 1'000'000;
  Collector c(n);
  Loop loop(sender_options(), receiver_options(), faults, c);
  loop.run(n, small_size, step_ns, 2 * ns_per_s);
  EXPECT_EQ(c.check_exact_accounting(), 0u);
  EXPECT_EQ(c.delivered_total, n);
  EXPECT_TRUE(c.losses.empty());
  const auto& rc = loop.receiver.counters();
  EXPECT_GT(loop.sim.counters().dropped_random, 0u);
  EXPECT_GT(rc.blocks_recovered_fec.load(), 0u);
  EXPECT_EQ(rc.blocks_lost.load(), 0u);
  EXPECT_EQ(rc.frames_bad_mac.load(), 0u);
  EXPECT_EQ(rc.datagrams_received.load(), loop.sim.counters().delivered);
}

TEST(LinkSim, NoEnvelopeLostAtBurstsOfTenDatagrams) {
  sim::Faults faults;
  faults.seed = 4242;
  faults.burst_len = 10;
  faults.burst_start = 0.05;
  // Bursts at least 100 datagrams apart: at most 3 bursts meet one interleaved group (4 blocks
  // × 80 fragments), each costing a block at most 3 fragments (see the exhaustive test
  // below), 9 < m = 16. About 8% of all datagrams are lost in bursts.
  faults.burst_gap_min = 100;
  SCOPED_TRACE(seed_note(faults.seed));
  constexpr std::uint64_t n = 1'000'000;
  Collector c(n);
  Loop loop(sender_options(), receiver_options(), faults, c);
  loop.run(n, small_size, step_ns, 2 * ns_per_s);
  EXPECT_EQ(c.check_exact_accounting(), 0u);
  EXPECT_EQ(c.delivered_total, n);
  EXPECT_TRUE(c.losses.empty());
  EXPECT_GT(loop.sim.counters().dropped_burst, 1000u);
  EXPECT_GT(loop.sim.counters().dropped_burst * 20, loop.sim.counters().sent);  // > 5%
  EXPECT_GT(loop.receiver.counters().blocks_recovered_fec.load(), 0u);
  EXPECT_EQ(loop.receiver.counters().blocks_lost.load(), 0u);
}

// Far beyond what FEC repairs, with duplication, reordering and corruption: every envelope is
// delivered once or reported lost once, and every corrupted datagram is counted as a bad MAC.
TEST(LinkSim, HeavyFaultsAreAccountedExactly) {
  for (std::uint64_t seed : {1, 2, 3}) {
    sim::Faults faults;
    faults.seed = seed;
    faults.drop = 0.25;
    faults.burst_len = 30;
    faults.burst_start = 0.01;
    faults.duplicate = 0.05;
    faults.corrupt = 0.02;
    faults.delay_ns = ns_per_ms;
    faults.jitter_ns = 3 * ns_per_ms;
    SCOPED_TRACE(seed_note(seed));
    constexpr std::uint64_t n = 50'000;
    Collector c(n);
    auto so = sender_options();
    so.settings.data_fragments = 16;
    so.settings.parity_fragments = 4;
    auto ro = receiver_options();
    ro.settings = so.settings;
    Loop loop(so, ro, faults, c);
    loop.run(n, small_size, step_ns, 3 * ns_per_s);
    const std::uint64_t lost = c.check_exact_accounting();
    EXPECT_GT(lost, 0u);
    EXPECT_EQ(lost + c.delivered_total, n);
    const auto& rc = loop.receiver.counters();
    EXPECT_EQ(rc.envelopes_lost.load(), lost);
    EXPECT_EQ(rc.frames_bad_mac.load(), loop.sim.counters().corrupted);
    EXPECT_EQ(rc.datagrams_received.load(), loop.sim.counters().delivered);
    EXPECT_GT(rc.frames_duplicate.load() + rc.frames_redundant.load(), 0u);
    EXPECT_EQ(rc.blocks_lost_range_unknown.load(), 0u);
    for (const Loss& l : c.losses) EXPECT_TRUE(l.range_known);
  }
}

// The interleaving claim, exhaustively: in a stream of full groups, a burst of 10 consecutive
// lost datagrams starting at any position costs no block more than m fragments.
TEST(LinkSim, EveryBurstOfTenCostsEachBlockAtMostMFragments) {
  FakeClock clock;
  const auto key = testing::test_key();
  Sender sender(sender_options(), key, clock);
  std::vector<std::vector<std::uint8_t>> stream;
  std::vector<std::span<const std::uint8_t>> out(256);
  std::uint64_t seq = 1;
  while (stream.size() < 4000) {
    while (sender.submit(seq, envelope_bytes(seq, 100)).ok()) ++seq;
    for (std::size_t i = 0, n = sender.produce(out); i < n; ++i) {
      stream.emplace_back(out[i].begin(), out[i].end());
    }
    clock.advance_ns(ns_per_ms);
  }
  std::vector<FrameHeader> headers;
  for (const auto& d : stream) headers.push_back(peek(d)->header);
  constexpr std::size_t burst = 10;
  std::size_t worst = 0;
  for (std::size_t start = 0; start + burst <= headers.size(); ++start) {
    std::map<std::uint64_t, std::size_t> hit;
    for (std::size_t i = start; i < start + burst; ++i) {
      if (headers[i].kind == FrameKind::data) worst = std::max(worst, ++hit[headers[i].block]);
    }
  }
  EXPECT_EQ(worst, 3u);  // ceil(10 / depth 4): the groups are equal-sized blocks
  EXPECT_LE(worst, std::size_t{sender_options().settings.parity_fragments});
}

// A block lost whole (every fragment dropped) is reported with exactly its range.
TEST(LinkSim, WholeBlockLossIsReportedWithItsExactRange) {
  sim::Faults faults;
  Collector c(20'000);
  Loop loop(sender_options(), receiver_options(), faults, c);
  std::uint64_t first = 0, count = 0;
  loop.sim.set_filter([&](std::span<const std::uint8_t> d) {
    auto f = peek(d);
    if (!f || f->header.kind != FrameKind::data || f->header.block != 3) return false;
    first = f->header.first_seq;
    count = f->header.count;
    return true;
  });
  loop.run(20'000, small_size, step_ns, 2 * ns_per_s);
  ASSERT_GT(count, 0u);
  c.check_exact_accounting();
  ASSERT_EQ(c.losses.size(), 1u);
  EXPECT_EQ(c.losses[0].block, 3u);
  EXPECT_TRUE(c.losses[0].range_known);
  EXPECT_EQ(c.losses[0].reason, LossReason::timeout);
  // The block's first envelope may have started in block 2 and its last may continue in
  // block 4: those are lost too, and reported here, once.
  EXPECT_EQ(c.losses[0].first_seq, first);
  EXPECT_EQ(c.losses[0].count, count);
  EXPECT_EQ(loop.receiver.counters().blocks_lost.load(), 1u);
  EXPECT_EQ(loop.receiver.counters().envelopes_lost.load(), count);
}

// m + 1 fragments lost: FEC cannot help, the range comes from the surviving fragments.
TEST(LinkSim, OneFragmentTooManyIsReportedExactly) {
  sim::Faults faults;
  Collector c(20'000);
  Loop loop(sender_options(), receiver_options(), faults, c);
  loop.sim.set_filter([&](std::span<const std::uint8_t> d) {
    auto f = peek(d);
    return f && f->header.kind == FrameKind::data && f->header.block == 5 &&
           f->header.index <= f->header.m;  // m + 1 fragments
  });
  loop.run(20'000, small_size, step_ns, 2 * ns_per_s);
  c.check_exact_accounting();
  ASSERT_EQ(c.losses.size(), 1u);
  EXPECT_EQ(c.losses[0].block, 5u);
  EXPECT_GT(c.losses[0].count, 0u);
}

// Tail loss: the last group is lost whole; the heartbeats name the newest block and the
// ranges, so the receiver reports it instead of waiting forever.
TEST(LinkSim, TailLossIsDetectedFromHeartbeats) {
  sim::Faults faults;
  constexpr std::uint64_t n = 3000;
  Collector c(n);
  Loop loop(sender_options(), receiver_options(), faults, c);
  loop.sim.set_filter([&](std::span<const std::uint8_t> d) {
    auto f = peek(d);
    return f && f->header.kind == FrameKind::data && f->header.first_seq + f->header.count > n - 50;
  });
  loop.run(n, small_size, step_ns, 2 * ns_per_s);
  const auto lost = c.check_exact_accounting();
  EXPECT_GE(lost, 50u);
  EXPECT_FALSE(c.losses.empty());
  for (const Loss& l : c.losses) EXPECT_TRUE(l.range_known);
  EXPECT_EQ(c.losses.back().first_seq + c.losses.back().count, n + 1);
}

// A block of which nothing arrived and whose heartbeats were lost too: reported, range unknown.
TEST(LinkSim, BlockWithNoFragmentAndNoHeartbeatIsReportedRangeUnknown) {
  sim::Faults faults;
  Collector c(20'000);
  Loop loop(sender_options(), receiver_options(), faults, c);
  loop.sim.set_filter([&](std::span<const std::uint8_t> d) {
    auto f = peek(d);
    if (!f) return false;
    if (f->header.kind == FrameKind::heartbeat) return f->header.block >= 2;
    return f->header.kind == FrameKind::data && f->header.block == 2;
  });
  loop.run(20'000, small_size, step_ns, 2 * ns_per_s);
  ASSERT_GE(c.losses.size(), 1u);
  EXPECT_EQ(c.losses[0].block, 2u);
  EXPECT_FALSE(c.losses[0].range_known);
  // An envelope that began in block 2 and continued in block 3 never completes: reported on
  // its own, once.
  for (std::size_t i = 1; i < c.losses.size(); ++i) {
    EXPECT_EQ(c.losses[i].reason, LossReason::incomplete);
    EXPECT_EQ(c.losses[i].count, 1u);
  }
  EXPECT_LE(c.losses.size(), 2u);
  EXPECT_EQ(loop.receiver.counters().blocks_lost_range_unknown.load(), 1u);
}

std::size_t large_size(std::uint64_t seq) { return (64u << 10) + seq % 1000; }

// 64 KiB envelopes span blocks: they are put back together, and one lost block loses exactly
// the envelopes it touched (each reported once even when two neighbouring blocks are lost).
TEST(LinkSim, EnvelopesSpanningBlocks) {
  sim::Faults faults;
  faults.seed = 99;
  faults.drop = 0.02;
  faults.jitter_ns = 2 * ns_per_ms;
  SCOPED_TRACE(seed_note(faults.seed));
  constexpr std::uint64_t n = 300;
  Collector c(n, large_size);
  auto so = sender_options();
  so.settings.data_fragments = 16;
  so.settings.parity_fragments = 4;
  auto ro = receiver_options();
  ro.settings = so.settings;
  Loop loop(so, ro, faults, c);
  loop.sim.set_filter([&](std::span<const std::uint8_t> d) {
    auto f = peek(d);
    return f && f->header.kind == FrameKind::data &&
           (f->header.block == 10 || f->header.block == 11 || f->header.block == 40);
  });
  loop.run(n, large_size, step_ns, 3 * ns_per_s);
  const auto lost = c.check_exact_accounting();
  EXPECT_GT(lost, 0u);
  EXPECT_LE(lost, 10u);
  EXPECT_EQ(c.losses.size(), 3u);
  EXPECT_EQ(loop.receiver.counters().envelopes_delivered.load() + lost, n);
}

// Corrupted, truncated, forged, other-session, other-link and oversized datagrams: each is
// dropped and counted under its own name, and nothing they carry is delivered.
TEST(LinkSim, HostileDatagramsAreDroppedAndCountedExactly) {
  sim::Faults faults;
  constexpr std::uint64_t n = 5000;
  Collector c(n);
  Loop loop(sender_options(), receiver_options(), faults, c);
  // Session A's frames, captured to replay later.
  std::vector<std::vector<std::uint8_t>> old_session;
  {
    FakeClock clock;
    auto so = sender_options();
    so.session = 500;
    Sender old(so, loop.key, clock);
    for (std::uint64_t s = 1; s <= 100; ++s) ASSERT_TRUE(old.submit(s, envelope_bytes(s, 40)).ok());
    std::vector<std::span<const std::uint8_t>> out(256);
    for (std::size_t k = old.produce(out), i = 0; i < k; ++i) {
      old_session.emplace_back(out[i].begin(), out[i].end());
    }
  }
  ASSERT_GT(old_session.size(), 10u);
  std::uint64_t corrupted = 0, truncated = 0, truncated_long = 0, forged = 0, replayed = 0,
                oversized = 0, wrong_link = 0;
  sim::Rng rng(5);
  const auto other_key = testing::test_key(77);
  std::uint64_t hostile = 0;
  loop.sim.set_filter([&](std::span<const std::uint8_t> d) {
    std::vector<std::uint8_t> bad(d.begin(), d.end());
    switch (hostile++ % 7) {
      case 0:  // a bit flipped anywhere
        bad[rng.below(bad.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
        loop.receiver.on_datagram(bad);
        ++corrupted;
        break;
      case 1:  // cut short, sometimes below the header
        bad.resize(rng.below(bad.size()));
        loop.receiver.on_datagram(bad);
        // Shorter than a header: counted as truncated; longer: the tag no longer matches.
        ++(bad.size() < frame_overhead_bytes ? truncated : truncated_long);
        break;
      case 2: {  // a well-formed frame under another key
        auto f = peek(d);
        std::vector<std::uint8_t> out(d.size());
        write_frame(f->header, f->payload, other_key, out);
        loop.receiver.on_datagram(out);
        ++forged;
        break;
      }
      case 3:  // replayed from an older session (once the genuine one is known; before that a
               // fresh receiver cannot tell, see ReceiverOptions::session_floor)
        if (loop.receiver.session() != 1000) break;
        loop.receiver.on_datagram(old_session[rng.below(old_session.size())]);
        ++replayed;
        break;
      case 4:  // longer than any frame may be
        bad.resize(limits::datagram_bytes_max);
        loop.receiver.on_datagram(std::span(bad).first(1473));
        ++oversized;
        break;
      case 5: {  // authentic under our key, but for another link id
        auto f = peek(d);
        FrameHeader h = f->header;
        h.link_id = 8;
        std::vector<std::uint8_t> out(d.size());
        write_frame(h, f->payload, loop.key, out);
        loop.receiver.on_datagram(out);
        ++wrong_link;
        break;
      }
      default:
        break;
    }
    return false;  // the genuine datagram goes through as well
  });
  loop.run(n, small_size, step_ns, 2 * ns_per_s);
  EXPECT_EQ(c.check_exact_accounting(), 0u);
  EXPECT_EQ(c.delivered_total, n);
  const auto& rc = loop.receiver.counters();
  EXPECT_EQ(rc.frames_bad_mac.load(), corrupted + forged + truncated_long);
  // Each refused frame also reaches the handler, for the node's (rate-limited) log.
  EXPECT_EQ(c.refused["bad_mac"], corrupted + forged + truncated_long);
  EXPECT_EQ(c.refused.count("malformed"), 0u);
  EXPECT_NE(c.last_refusal.find("refused a frame with a bad MAC ("), std::string::npos)
      << c.last_refusal;
  EXPECT_EQ(rc.frames_truncated.load(), truncated);
  EXPECT_EQ(rc.frames_malformed.load(), 0u);
  EXPECT_EQ(rc.frames_stale_session.load(), replayed);
  EXPECT_EQ(rc.frames_oversized.load(), oversized);
  EXPECT_EQ(rc.frames_wrong_link.load(), wrong_link);
  EXPECT_EQ(rc.sessions_started.load(), 1u);
  EXPECT_GT(corrupted * truncated * truncated_long * forged * replayed * oversized * wrong_link,
            0u);
}

TEST(LinkSim, FlashEnvelopesOvertakeQueuedRoutineOnes) {
  sim::Faults faults;
  Collector c(2000);
  auto so = sender_options();
  so.pace_bytes_per_s = 1'000'000;  // slow, so routine envelopes queue up
  Loop loop(so, receiver_options(), faults, c);
  for (std::uint64_t s = 1; s < 2000; ++s) {
    ASSERT_TRUE(loop.sender.submit(s, envelope_bytes(s, small_size(s))).ok());
  }
  loop.step(step_ns);  // the first group of routine blocks is on its way
  ASSERT_TRUE(
      loop.sender.submit(2000, envelope_bytes(2000, small_size(2000)), Precedence::flash).ok());
  std::uint64_t delivered_before_flash = 0;
  while (c.flash_seqs.empty()) {
    loop.step(step_ns);
    if (c.flash_seqs.empty()) delivered_before_flash = c.delivered_total;
  }
  EXPECT_EQ(c.flash_seqs, std::vector<std::uint64_t>{2000});
  EXPECT_LT(delivered_before_flash, 1000u);  // most routine envelopes were still queued
  EXPECT_GT(loop.sender.counters().flash_blocks_sealed.load(), 0u);
  while (!loop.sender.idle() || loop.sim.in_flight() > 0) loop.step(step_ns);
  EXPECT_EQ(c.check_exact_accounting(), 0u);
}

TEST(LinkSim, ControlRecordsAreRepeatedAndDeliveredOnce) {
  sim::Faults faults;
  faults.seed = 11;
  faults.drop = 0.5;
  SCOPED_TRACE(seed_note(faults.seed));
  Collector c(1);
  Loop loop(sender_options(), receiver_options(), faults, c);
  const std::vector<std::uint8_t> epoch = {'e', 'p', 'o', 'c', 'h', ' ', '4'};
  auto id = loop.sender.submit_control(epoch, 20);
  ASSERT_TRUE(id.ok());
  EXPECT_FALSE(loop.sender.submit_control({}, 3).ok());
  EXPECT_FALSE(loop.sender.submit_control(epoch, 0).ok());
  for (int i = 0; i < 1000; ++i) loop.step(step_ns);
  EXPECT_EQ(loop.sender.counters().control_frames_sent.load(), 20u);
  EXPECT_EQ(c.control_calls, 1u);
  EXPECT_EQ(c.controls.at(*id), epoch);
  const auto& rc = loop.receiver.counters();
  EXPECT_EQ(rc.control_records_delivered.load() + rc.control_repeats_ignored.load(),
            20u - loop.sim.counters().dropped_random +
                (loop.sender.counters().heartbeats_sent.load() - rc.heartbeats_received.load()));
}

TEST(LinkSim, SeveralControlRecordsEachDeliveredOnce) {
  sim::Faults faults;
  Collector c(1);
  Loop loop(sender_options(), receiver_options(), faults, c);
  std::vector<std::uint64_t> ids;
  for (std::uint32_t repeats : {5u, 1u, 3u, 8u}) {
    const std::vector<std::uint8_t> record(repeats * 10, static_cast<std::uint8_t>(repeats));
    ids.push_back(*loop.sender.submit_control(record, repeats));
  }
  for (int i = 0; i < 500; ++i) loop.step(step_ns);
  EXPECT_TRUE(loop.sender.idle());
  EXPECT_EQ(loop.sender.counters().control_frames_sent.load(), 5u + 1 + 3 + 8);
  EXPECT_EQ(c.control_calls, 4u);
  EXPECT_EQ(c.controls.at(ids[3]), std::vector<std::uint8_t>(80, 8));
  EXPECT_EQ(loop.receiver.counters().control_repeats_ignored.load(), 4u + 0 + 2 + 7);
}

TEST(LinkSim, SubmitSaysOverloadedInsteadOfGrowing) {
  FakeClock clock;
  auto key = testing::test_key();
  auto so = sender_options();
  so.staging_bytes_max = limits::envelope_bytes_max;
  Sender s(so, key, clock);
  std::uint64_t seq = 1;
  Status st;
  while ((st = s.submit(seq, envelope_bytes(seq, 1000))).ok()) ++seq;
  EXPECT_EQ(st.code(), Code::overloaded);
  EXPECT_EQ(seq - 1, limits::envelope_bytes_max / 1000);
  EXPECT_EQ(s.counters().submits_overloaded.load(), 1u);
  EXPECT_EQ(s.submit(seq, {}).code(), Code::malformed);
  std::vector<std::uint8_t> huge(limits::envelope_bytes_max + 1);
  EXPECT_EQ(s.submit(seq, huge).code(), Code::malformed);
  // Sending frees room.
  std::vector<std::span<const std::uint8_t>> out(256);
  clock.advance_ns(ns_per_s);
  EXPECT_GT(s.produce(out), 0u);
  EXPECT_TRUE(s.submit(seq, envelope_bytes(seq, 1000)).ok());
}

// The queue depth a node exposes (cellgate_link_queued_*): what was submitted and not yet
// cut into blocks, exactly; zero once everything has been produced.
TEST(LinkSim, QueuedCountsWhatIsNotYetCutIntoBlocks) {
  FakeClock clock;
  auto key = testing::test_key();
  Sender s(sender_options(), key, clock);
  EXPECT_EQ(s.queued().envelopes, 0u);
  EXPECT_EQ(s.queued().bytes, 0u);
  for (std::uint64_t seq = 1; seq <= 3; ++seq)
    ASSERT_TRUE(s.submit(seq, envelope_bytes(seq, 700)).ok());
  ASSERT_TRUE(s.submit(4, envelope_bytes(4, 300), Precedence::flash).ok());
  EXPECT_EQ(s.queued().envelopes, 4u);
  EXPECT_EQ(s.queued().bytes, 3u * 700 + 300);
  std::vector<std::span<const std::uint8_t>> out(256);
  for (int i = 0; i < 100 && !s.idle(); ++i) {
    clock.advance_ns(ns_per_ms);
    s.produce(out);
  }
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(s.queued().envelopes, 0u);
  EXPECT_EQ(s.queued().bytes, 0u);
}

TEST(LinkSim, PacingHoldsTheConfiguredRate) {
  FakeClock clock;
  auto key = testing::test_key();
  auto so = sender_options();
  so.pace_bytes_per_s = 1'000'000;
  Sender s(so, key, clock);
  std::vector<std::span<const std::uint8_t>> out(256);
  std::uint64_t seq = 1;
  for (int ms = 0; ms < 10'000; ++ms) {
    while (s.submit(seq, envelope_bytes(seq, 200)).ok()) ++seq;
    s.produce(out);
    clock.advance_ns(ns_per_ms);
  }
  // 10 s at 1 MB/s plus at most one bucket (2 ms or 64 datagrams) of burst.
  const auto sent = s.counters().bytes_sent.load();
  EXPECT_LE(sent, 10'000'000u + 64u * 1472u);
  EXPECT_GE(sent, 9'900'000u);
}

TEST(LinkSim, SettingsMismatchIsSaidPlainlyAndFramesAreDropped) {
  sim::Faults faults;
  Collector c(100);
  auto ro = receiver_options();
  ro.settings.parity_fragments = 8;
  Loop loop(sender_options(), ro, faults, c);
  loop.run(100, small_size, step_ns, 300 * ns_per_ms);
  EXPECT_EQ(c.delivered_total, 0u);
  const auto& rc = loop.receiver.counters();
  EXPECT_EQ(rc.frames_settings_mismatch.load(), rc.datagrams_received.load());
  bool detailed = false;
  for (const Alert& a : c.alerts) {
    EXPECT_EQ(a.kind, AlertKind::settings_mismatch);
    if (a.text.find("k=64, m=16, datagram 1472 B") != std::string::npos &&
        a.text.find("k=64, m=8") != std::string::npos) {
      detailed = true;
    }
  }
  EXPECT_TRUE(detailed) << (c.alerts.empty() ? "" : c.alerts.back().text);
  EXPECT_LE(c.alerts.size(), 2u);  // once per fingerprint, not per frame
}

// A sender restart (newer session) is adopted; blocks of the old session that were still
// being reassembled are reported lost, and the old session's frames are refused afterwards.
TEST(LinkSim, NewerSessionReplacesTheOldOne) {
  FakeClock clock;
  auto key = testing::test_key();
  Collector c(400);
  Receiver r(receiver_options(), key, clock, c);
  // Envelope sizes as the Collector expects them.
  std::vector<std::span<const std::uint8_t>> out(256);
  auto so = sender_options();
  so.session = 10;
  Sender a(so, key, clock);
  for (std::uint64_t s = 1; s <= 200; ++s) {
    ASSERT_TRUE(a.submit(s, envelope_bytes(s, small_size(s))).ok());
  }
  const std::size_t na = a.produce(out);
  std::vector<std::vector<std::uint8_t>> held;
  // Hold back block 2's fragments but one: it stays incomplete when session B starts.
  bool first_of_block_2 = true;
  for (std::size_t i = 0; i < na; ++i) {
    auto f = peek(out[i]);
    if (f && f->header.kind == FrameKind::data && f->header.block == 2 && !first_of_block_2) {
      held.emplace_back(out[i].begin(), out[i].end());
      continue;
    }
    if (f && f->header.kind == FrameKind::data && f->header.block == 2) first_of_block_2 = false;
    r.on_datagram(out[i]);
  }
  ASSERT_GT(held.size(), 16u);
  so.session = 11;
  Sender b(so, key, clock);
  for (std::uint64_t s = 201; s <= 400; ++s) {
    ASSERT_TRUE(b.submit(s, envelope_bytes(s, small_size(s))).ok());
  }
  for (std::size_t i = 0, nb = b.produce(out); i < nb; ++i) r.on_datagram(out[i]);
  for (const auto& d : held) r.on_datagram(d);
  EXPECT_EQ(r.session(), 11u);
  EXPECT_EQ(r.counters().sessions_started.load(), 2u);
  EXPECT_EQ(r.counters().frames_stale_session.load(), held.size());
  ASSERT_FALSE(c.alerts.empty());
  EXPECT_EQ(c.alerts.back().kind, AlertKind::stale_session);
  EXPECT_NE(c.alerts.back().text.find("000000000000000a refused"), std::string::npos)
      << c.alerts.back().text;
  c.check_exact_accounting();
  for (std::uint64_t s = 201; s <= 400; ++s) EXPECT_EQ(c.delivered(s), 1u) << s;
  EXPECT_FALSE(c.losses.empty());
  EXPECT_EQ(c.losses.back().reason, LossReason::session_ended);
}

// Reassembly memory stays bounded however many blocks are left incomplete.
TEST(LinkSim, BlocksInFlightStayBounded) {
  sim::Faults faults;
  faults.seed = 3;
  faults.drop = 0.9;  // almost nothing completes
  SCOPED_TRACE(seed_note(faults.seed));
  Collector c(100'000);
  auto so = sender_options();
  so.settings.data_fragments = 16;
  so.settings.parity_fragments = 4;
  auto ro = receiver_options();
  ro.settings = so.settings;
  ro.blocks_in_flight_max = 8;
  ro.block_timeout_ns = 10 * ns_per_s;
  Loop loop(so, ro, faults, c);
  std::uint64_t next = 1;
  std::size_t peak = 0;
  while (next <= 100'000 || !loop.sender.idle()) {
    while (next <= 100'000 &&
           loop.sender.submit(next, envelope_bytes(next, small_size(next))).ok()) {
      ++next;
    }
    loop.step(step_ns);
    peak = std::max(peak, loop.receiver.blocks_in_flight());
  }
  for (int i = 0; i < 11'000; ++i) loop.step(step_ns);
  EXPECT_LE(peak, 8u);
  EXPECT_GT(loop.receiver.counters().blocks_lost.load(), 0u);
  // Most heartbeats are lost too, so some ranges are unknown; nothing is counted twice.
  for (std::uint64_t s = 1; s <= 100'000; ++s) ASSERT_LE(c.delivered(s) + c.lost(s), 1u) << s;
}

}  // namespace
}  // namespace cg::link
