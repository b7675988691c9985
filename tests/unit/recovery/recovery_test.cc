// gateway/recovery: receiver reports (signed, bounded, verified against the trust root), the
// receiver's gap tracking, the gateway's rate-limited re-send queue, and the receiver's check
// of the relay's history (published heads, consistency proofs, the other party's quoted head).
#include "gateway/recovery/recovery.h"

#include <gtest/gtest.h>

#include "gateway/approval/approval.h"
#include "gateway/common/limits.h"
#include "gateway/translog/translog.h"
#include "gateway/wire/wire.h"
#include "tests/support/temp_dir.h"

namespace cg::recovery {
namespace {

constexpr std::int64_t now = 1'790'000'000LL * 1'000'000'000;
constexpr std::int64_t s = ns_per_s;

struct Keys {
  std::unique_ptr<crypto::SigningKey> sign;
  std::unique_ptr<crypto::AgreementKey> kx;
};

class RecoveryTest : public ::testing::Test {
 protected:
  RecoveryTest() : suite_(crypto::modern_suite()) {
    for (Keys* k : {&gw_, &relay_, &rx_, &il_rx_}) {
      k->sign = suite_.generate_signing_key();
      k->kx = suite_.generate_agreement_key();
    }
    capnp::MallocMessageBuilder mb;
    auto body = mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(1);
    body.setExpires(now * 2);
    struct N {
      const char* id;
      const char* party;
      schema::Role role;
      Keys* keys;
    } spec[] = {{"il-gw-1", "il", schema::Role::GATEWAY, &gw_},
                {"us-relay", "us", schema::Role::RELAY, &relay_},
                {"sy-rx-1", "sy", schema::Role::RECEIVER, &rx_},
                {"il-rx-1", "il", schema::Role::RECEIVER, &il_rx_}};
    auto nodes = body.initNodes(4);
    for (unsigned i = 0; i < 4; ++i) {
      nodes[i].setId(spec[i].id);
      nodes[i].setParty(spec[i].party);
      nodes[i].setRole(spec[i].role);
      trust::fill_public_key(nodes[i].initSigningKey(), suite_.id(),
                             spec[i].keys->sign->public_key(), spec[i].id);
      trust::fill_public_key(nodes[i].initAgreementKey(), suite_.id(),
                             spec[i].keys->kx->public_key(), spec[i].id);
    }
    trust::fill_public_key(body.initRootKeys(1)[0], suite_.id(), gw_.sign->public_key(), "root");
    body.setRootThreshold(1);
    const trust::SuiteVerifier verifier(suite_);
    root_.emplace(*trust::TrustRoot::parse(wire::to_flat_bytes(mb), verifier));
  }

  envelope::Signer signer(const char* id, const Keys& k) const {
    return {id, &suite_, k.sign.get(), crypto::key_id(suite_.id(), k.sign->public_key())};
  }

  Report sample() const {
    Report r;
    r.time_ns = now;
    r.gaps.push_back({{"il-gw-1", "sy", 0}, {{3, 5}, {9, 9}}});
    return r;
  }

  QuotedHead quoted(std::uint64_t serial, std::uint64_t size) const {
    const auto relay = signer("us-relay", relay_);
    const crypto::Hash root(32, static_cast<std::uint8_t>(size));
    auto head = envelope::sign_tree_head(relay, serial, size, root, now);
    EXPECT_TRUE(head.ok());
    return {"us-relay", relay.key_id, *head};
  }

  const crypto::Suite& suite_;
  Keys gw_, relay_, rx_, il_rx_;
  std::optional<trust::TrustRoot> root_;
};

TEST_F(RecoveryTest, ReportRoundTripsAndEveryByteIsCovered) {
  Report r = sample();
  r.head = quoted(7, 40);
  auto bytes = sign_report(signer("sy-rx-1", rx_), r);
  ASSERT_TRUE(bytes.ok()) << bytes.status().reason();
  auto back = verify_report(*bytes, *root_, suite_);
  ASSERT_TRUE(back.ok()) << back.status().reason();
  EXPECT_EQ(back->reporter, "sy-rx-1");
  EXPECT_EQ(back->reporter_party, "sy");
  ASSERT_EQ(back->gaps.size(), 1u);
  EXPECT_EQ(back->gaps[0].key, (StreamKey{"il-gw-1", "sy", 0}));
  ASSERT_EQ(back->gaps[0].ranges.size(), 2u);
  EXPECT_EQ(back->gaps[0].ranges[1].first, 9u);
  ASSERT_TRUE(back->head);
  EXPECT_EQ(back->head->head.serial, 7u);
  EXPECT_EQ(back->head->head.tree_size, 40u);
  // Every single flipped bit is refused: malformed or unauthenticated, never accepted.
  std::size_t refused = 0;
  for (std::size_t i = 0; i < bytes->size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto flipped = *bytes;
      flipped[i] ^= static_cast<std::uint8_t>(1 << bit);
      auto v = verify_report(flipped, *root_, suite_);
      if (v.ok()) {
        // Only bits the schema leaves unused (padding, the segment table's spare room) may
        // flip without effect: the report must then read exactly the same.
        EXPECT_EQ(v->gaps[0].ranges[0].first, 3u);
        EXPECT_EQ(v->head->head.serial, 7u);
        continue;
      }
      ++refused;
      EXPECT_TRUE(v.status().code() == Code::malformed ||
                  v.status().code() == Code::unauthenticated)
          << v.status().reason();
    }
  }
  EXPECT_GT(refused, bytes->size() * 4);
}

TEST_F(RecoveryTest, ReportsFromTheWrongNodesOrAboutOthersStreamsAreRefused) {
  // A gateway is not a reporter.
  auto by_gateway = sign_report(signer("il-gw-1", gw_), sample());
  ASSERT_TRUE(by_gateway.ok());
  EXPECT_EQ(verify_report(*by_gateway, *root_, suite_).status().code(), Code::unauthenticated);
  // A receiver signing as another one.
  auto forged = sign_report(signer("sy-rx-1", il_rx_), sample());
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(verify_report(*forged, *root_, suite_).status().code(), Code::unauthenticated);
  // A receiver of il asking for seqs of a stream to sy.
  auto others = sign_report(signer("il-rx-1", il_rx_), sample());
  ASSERT_TRUE(others.ok());
  auto v = verify_report(*others, *root_, suite_);
  EXPECT_EQ(v.status().code(), Code::unauthenticated);
  EXPECT_NE(v.status().reason().find("to sy"), std::string::npos) << v.status().reason();
  // A quoted head whose signature is not the relay's.
  Report r = sample();
  r.head = quoted(7, 40);
  r.head->head.root_hash[0] ^= 1;
  auto bad_head = sign_report(signer("sy-rx-1", rx_), r);
  ASSERT_TRUE(bad_head.ok());
  EXPECT_EQ(verify_report(*bad_head, *root_, suite_).status().code(), Code::unauthenticated);
}

TEST_F(RecoveryTest, ReportLimitsAreEnforcedOnBothSides) {
  const auto rx = signer("sy-rx-1", rx_);
  Report streams;
  for (std::uint32_t i = 0; i <= limits::gap_streams_max; ++i)
    streams.gaps.push_back({{"il-gw-1", "sy", i}, {{1, 1}}});
  EXPECT_EQ(sign_report(rx, streams).status().code(), Code::malformed);
  streams.gaps.pop_back();
  EXPECT_TRUE(sign_report(rx, streams).ok()) << "exactly at the limit";

  Report ranges;
  ranges.gaps.push_back({{"il-gw-1", "sy", 0}, {}});
  for (std::uint64_t i = 0; i <= limits::gap_ranges_max; ++i)
    ranges.gaps[0].ranges.push_back({2 * i + 1, 2 * i + 1});
  EXPECT_EQ(sign_report(rx, ranges).status().code(), Code::malformed);
  ranges.gaps[0].ranges.pop_back();
  EXPECT_TRUE(sign_report(rx, ranges).ok());

  Report seqs;
  seqs.gaps.push_back({{"il-gw-1", "sy", 0}, {{1, limits::gap_report_seqs_max}}});
  EXPECT_TRUE(sign_report(rx, seqs).ok()) << "exactly at the limit";
  seqs.gaps[0].ranges[0].last += 1;
  EXPECT_EQ(sign_report(rx, seqs).status().code(), Code::malformed);

  Report unsorted;
  unsorted.gaps.push_back({{"il-gw-1", "sy", 0}, {{5, 6}, {6, 7}}});
  EXPECT_EQ(sign_report(rx, unsorted).status().code(), Code::malformed) << "overlapping";
  unsorted.gaps[0].ranges = {{0, 2}};
  EXPECT_EQ(sign_report(rx, unsorted).status().code(), Code::malformed) << "seq 0";
  EXPECT_EQ(verify_report(std::vector<std::uint8_t>(64, 0), *root_, suite_).status().code(),
            Code::malformed);
}

TEST_F(RecoveryTest, ReportTravelsAsAGapReportItem) {
  auto bytes = sign_report(signer("sy-rx-1", rx_), sample());
  ASSERT_TRUE(bytes.ok());
  auto item_bytes =
      report_item(*bytes, {"sy-rx-1", "cell-2026", now, std::vector<std::uint8_t>(16, 7)});
  ASSERT_TRUE(item_bytes.ok()) << item_bytes.status().reason();
  auto item = wire::decode_item(*item_bytes);
  ASSERT_TRUE(item.ok()) << item.status().reason();
  EXPECT_EQ(item->root().getKind(), schema::Kind::GAP_REPORT);
  EXPECT_EQ(wire::view(item->root().getSource()), "sy-rx-1");
  EXPECT_EQ(item->root().getBanner().getTlp(), schema::Tlp::CLEAR);
  auto inside = report_of(item->root());
  ASSERT_TRUE(inside.ok());
  EXPECT_TRUE(std::equal(inside->begin(), inside->end(), bytes->begin(), bytes->end()));
  EXPECT_EQ(report_item(*bytes, {"sy-rx-1", "cell-2026", now, {1, 2}}).status().code(),
            Code::malformed)
      << "id of the wrong length";
}

TEST(GapTracker, ReportsWhatStaysMissingThenAsksAgainThenGivesUp) {
  GapTracker t({.report_after_ns = 3 * s, .rereport_after_ns = 5 * s, .give_up_after_ns = 60 * s});
  const StreamKey k{"il-gw-1", "sy", 0};
  const std::vector<SeqRange> missing = {{10, 19}};
  t.update(k, missing, 0);
  EXPECT_TRUE(t.due(1 * s).empty()) << "may still be reordering";
  t.update(k, missing, 2 * s);
  EXPECT_TRUE(t.due(2 * s).empty());
  auto due = t.due(3 * s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].key, k);
  ASSERT_EQ(due[0].ranges.size(), 1u);
  EXPECT_EQ(due[0].ranges[0].first, 10u);
  EXPECT_EQ(due[0].ranges[0].last, 19u);
  EXPECT_EQ(t.seqs_requested(), 10u);
  EXPECT_TRUE(t.due(7 * s).empty()) << "asked 4 s ago";
  // Half of it arrives (counted as recovered); the rest keeps its age and is asked for again.
  for (std::uint64_t seq = 10; seq <= 14; ++seq) EXPECT_TRUE(t.arrived(k, seq));
  EXPECT_FALSE(t.arrived(k, 30)) << "never reported";
  EXPECT_EQ(t.recovered(), 5u);
  const std::vector<SeqRange> rest = {{15, 19}};
  t.update(k, rest, 8 * s);
  EXPECT_EQ(t.open_seqs(), 5u);
  due = t.due(8 * s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].ranges[0].first, 15u);
  // A new gap beside it starts its own clock.
  const std::vector<SeqRange> more = {{15, 19}, {25, 25}};
  t.update(k, more, 9 * s);
  due = t.due(11 * s);
  EXPECT_TRUE(due.empty()) << "15..19 asked at 8 s, 25 missing since 9 s";
  due = t.due(13 * s);
  ASSERT_EQ(due.size(), 1u);
  ASSERT_EQ(due[0].ranges.size(), 2u) << "both due now";
  // Past give_up: abandoned, with an alarm, and not tracked again while still missing.
  t.update(k, more, 61 * s);
  due = t.due(61 * s);
  ASSERT_EQ(due.size(), 1u);
  ASSERT_EQ(due[0].ranges.size(), 1u) << "15..19 given up, 25 asked again";
  EXPECT_EQ(due[0].ranges[0].first, 25u);
  auto gone = t.take_abandoned();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].range.first, 15u);
  EXPECT_EQ(t.abandoned_seqs(), 5u);
  t.update(k, more, 62 * s);
  EXPECT_EQ(t.open_seqs(), 1u) << "only 25 is tracked";
  EXPECT_TRUE(t.take_abandoned().empty());
}

TEST(GapTracker, OneReportAsksForAtMostTheLimitTheRestFollows) {
  GapTracker t({.report_after_ns = 0, .rereport_after_ns = 5 * s});
  const StreamKey k{"il-gw-1", "sy", 0};
  const std::vector<SeqRange> huge = {{1, limits::gap_report_seqs_max + 100}};
  t.update(k, huge, 0);
  auto first = t.due(0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].ranges[0].last - first[0].ranges[0].first + 1, limits::gap_report_seqs_max);
  auto second = t.due(0);
  ASSERT_EQ(second.size(), 1u) << "the rest was split off, still due";
  EXPECT_EQ(second[0].ranges[0].first, limits::gap_report_seqs_max + 1);
  EXPECT_EQ(second[0].ranges[0].last, limits::gap_report_seqs_max + 100);
}

TEST(ResendQueue, HoldsOffRepeatsAndKeepsToItsRate) {
  ResendQueue q({.seqs_per_s = 100, .burst = 10, .holdoff_ns = 4 * s, .queued_max = 50});
  const std::vector<SeqRange> r = {{1, 30}};
  EXPECT_EQ(q.request("sy", r, 0), 30u);
  EXPECT_EQ(q.request("sy", r, 1 * s), 0u) << "queued already";
  auto now_sent = q.take(1000, 1 * s);
  EXPECT_EQ(now_sent.size(), 10u) << "the burst";
  EXPECT_EQ(now_sent.front(), std::make_pair(std::string("sy"), std::uint64_t{1}));
  EXPECT_EQ(q.take(1000, 1 * s + s / 20).size(), 5u) << "100/s for 50 ms";
  EXPECT_EQ(q.take(1000, 10 * s).size(), 10u) << "never more than the burst";
  EXPECT_EQ(q.take(1000, 20 * s).size(), 5u) << "the rest";
  EXPECT_EQ(q.queued(), 0u);
  // Asked again right after a re-send: held off; after the holdoff: queued again.
  const std::vector<SeqRange> one = {{1, 1}};
  EXPECT_EQ(q.request("sy", one, 1 * s + s), 0u);
  EXPECT_EQ(q.request("sy", one, 6 * s), 1u);
  // Bounded: beyond queued_max requests are refused and counted.
  const std::vector<SeqRange> many = {{100, 199}};
  EXPECT_EQ(q.request("sy", many, 30 * s), 49u);
  EXPECT_EQ(q.refused(), 51u);
  EXPECT_EQ(q.queued(), 50u);
}

// A relay's log and signed heads, to feed a HeadChain as a receiver sees them.
class HeadChainTest : public RecoveryTest {
 protected:
  HeadChainTest() {
    env_ = *store::Env::open({.path = dir_.path(), .map_bytes = 64 << 20});
    log_.emplace(*translog::Log::open(*env_, "relay", crypto::hasher_of(suite_)));
  }
  void append(int n) {
    auto txn = *env_->begin_write();
    for (int i = 0; i < n; ++i) {
      const std::string leaf = "leaf " + std::to_string(leaves_++);
      ASSERT_TRUE(
          log_->append(txn, {reinterpret_cast<const std::uint8_t*>(leaf.data()), leaf.size()})
              .ok());
    }
    ASSERT_TRUE(txn.commit().ok());
  }
  // The head of the log now under `serial`, published with links from `from` (serials).
  envelope::VerifiedHead publish(std::uint64_t serial,
                                 std::vector<std::pair<std::uint64_t, std::uint64_t>> from) {
    const auto size = *log_->size();
    auto head =
        *envelope::sign_tree_head(signer("us-relay", relay_), serial, size, *log_->root(size), now);
    std::vector<envelope::HeadLinkProof> links;
    for (auto [ser, sz] : from) links.push_back({ser, sz, *log_->consistency_proof(sz, size)});
    auto record = envelope::published_head(signer("us-relay", relay_), head, links);
    EXPECT_TRUE(record.ok()) << record.status().reason();
    auto v = envelope::verify_published_head(*record, *root_, suite_);
    EXPECT_TRUE(v.ok()) << v.status().reason();
    return *v;
  }
  cg::testing::TempDir dir_;
  std::unique_ptr<store::Env> env_;
  std::optional<translog::Log> log_;
  int leaves_ = 0;
};

TEST_F(HeadChainTest, AnHonestRelaysHeadsLinkAndMatchTheOtherPartys) {
  HeadChain mine(crypto::hasher_of(suite_)), theirs(crypto::hasher_of(suite_));
  append(3);
  auto h1 = publish(1, {});
  append(5);
  auto h2 = publish(2, {{1, 3}});
  append(1);
  auto h3 = publish(3, {{2, 8}, {1, 3}});
  for (auto* c : {&mine, &theirs}) {
    for (const auto* h : {&h1, &h2, &h3}) EXPECT_TRUE(c->add_published(*h, 0).empty());
  }
  EXPECT_EQ(mine.counters().linked, 2u);
  EXPECT_EQ(mine.counters().unlinked, 0u);
  auto latest = theirs.latest();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->head.serial, 3u);
  EXPECT_TRUE(mine.compare_quoted(*latest, "report of il-rx-1", 0).empty());
  EXPECT_EQ(mine.counters().matched, 1u);
  // A countersignature under serial 2 is the published head 2.
  EXPECT_TRUE(mine.add_countersigned("us-relay", h2.head, 0).empty());
  EXPECT_EQ(mine.counters().evidence, 0u);
}

TEST_F(HeadChainTest, AHeadWhoseLinksWereLostIsKeptUnlinked) {
  HeadChain c(crypto::hasher_of(suite_));
  append(2);
  auto h1 = publish(1, {});
  append(2);
  auto h2 = publish(2, {{1, 2}});
  append(2);
  auto h3 = publish(3, {{2, 4}});
  EXPECT_TRUE(c.add_published(h1, 0).empty());
  EXPECT_TRUE(c.add_published(h3, 0).empty()) << "h2 lost on the link";
  EXPECT_EQ(c.counters().unlinked, 1u);
  EXPECT_EQ(c.counters().linked, 0u);
  EXPECT_TRUE(c.add_published(h2, 0).empty());
  EXPECT_EQ(c.counters().linked, 1u);
}

TEST_F(HeadChainTest, TwoHeadsUnderOneSerialAreAFork) {
  HeadChain c(crypto::hasher_of(suite_));
  append(3);
  auto h1 = publish(1, {});
  EXPECT_TRUE(c.add_published(h1, 0).empty());
  append(1);
  auto other = publish(1, {});  // serial 1 again, a larger tree
  auto e = c.add_published(other, 0);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, EvidenceKind::fork);
  EXPECT_EQ(e[0].mine.tree_size, 3u);
  EXPECT_EQ(e[0].theirs.tree_size, 4u);
  // The same through a countersignature.
  auto e2 = c.add_countersigned("us-relay", other.head, 0);
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(e2[0].kind, EvidenceKind::fork);
}

TEST_F(HeadChainTest, AProofThatDoesNotHoldAndAShrinkingTreeAreInconsistent) {
  HeadChain c(crypto::hasher_of(suite_));
  append(3);
  auto h1 = publish(1, {});
  append(3);
  auto h2 = publish(2, {{1, 3}});
  h2.links[0].proof[0][0] ^= 1;  // as if the history below serial 1 had changed
  EXPECT_TRUE(c.add_published(h1, 0).empty());
  auto e = c.add_published(h2, 0);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, EvidenceKind::inconsistent);
  EXPECT_EQ(c.counters().linked, 0u);
  // A later serial with fewer entries than an earlier one.
  auto small = quoted(5, 2);
  auto e2 = c.add_countersigned("us-relay", small.head, 0);
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(e2[0].kind, EvidenceKind::inconsistent);
}

TEST_F(HeadChainTest, TheOtherPartyShownAnotherHistoryUnderOurSerialIsDetected) {
  HeadChain c(crypto::hasher_of(suite_));
  append(3);
  EXPECT_TRUE(c.add_published(publish(1, {}), 0).empty());
  append(2);
  EXPECT_TRUE(c.add_published(publish(2, {{1, 3}}), 0).empty());
  // The other party quotes serial 2 with a different tree: a fork, found at once.
  auto e = c.compare_quoted(quoted(2, 9), "report of il-rx-1", 0);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, EvidenceKind::fork);
  EXPECT_NE(e[0].text.find("different histories"), std::string::npos) << e[0].text;
  // A serial beyond ours waits; when ours arrives and differs: a fork then.
  EXPECT_TRUE(c.compare_quoted(quoted(3, 11), "report of il-rx-1", 0).empty());
  EXPECT_EQ(c.pending(), 1u);
  append(1);
  auto e3 = c.add_published(publish(3, {{2, 5}}), 1 * s);
  ASSERT_EQ(e3.size(), 1u);
  EXPECT_EQ(e3[0].kind, EvidenceKind::fork);
  EXPECT_EQ(c.pending(), 0u);
  // A serial we passed but never held (lost on our link): not evidence, counted.
  append(1);
  EXPECT_TRUE(c.add_published(publish(5, {{3, 6}}), 1 * s).empty()) << "serial 4 never came";
  EXPECT_TRUE(c.compare_quoted(quoted(4, 6), "report of il-rx-1", 1 * s).empty());
  EXPECT_EQ(c.counters().unverifiable, 1u);
  // A serial beyond ours that never comes: withheld, after the wait.
  EXPECT_TRUE(c.compare_quoted(quoted(40, 60), "report of il-rx-1", 2 * s).empty());
  EXPECT_TRUE(c.tick(30 * s).empty());
  auto w = c.tick(62 * s);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].kind, EvidenceKind::withheld);
  EXPECT_EQ(c.counters().evidence, 3u);
  EXPECT_EQ(c.counters().matched, 0u);
}

}  // namespace
}  // namespace cg::recovery
