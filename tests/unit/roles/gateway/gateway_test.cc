// The gateway node over loopback: a source submits over CurveZMQ, the node judges under the
// approved bundle, seals, batch-signs and sends on a real UDP link; this test plays the far
// end of the link (it holds the receiver's key) and checks every envelope. Then the rules
// change under load: every envelope names the bundle that judged it and nothing is lost.
#include "gateway/roles/gateway/gateway.h"

#include <gtest/gtest.h>

#include "gateway/cli/cli.h"
#include "tests/unit/roles/cell_fixture.h"

namespace cg::node {
namespace {

using role_testing::Collect;

class GatewayNodeTest : public role_testing::CellFixture {};

TEST_F(GatewayNodeTest, JudgesSealsSignsAndSendsAndRulesChangeUnderLoad) {
  const auto v1 = write_bundle(nullptr, "");
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  auto node = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(node.ok()) << node.status().reason();
  EXPECT_EQ((*node)->rules_version(), 1u);

  auto pump_until = [&](auto done) {
    for (int i = 0; i < 3000 && !done(); ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  };
  ASSERT_EQ(send((*node)->ingest_endpoint(), 1, 150), 150u);
  pump_until([&] {
    return (*node)->counters().items_judged.load() == 150 &&
           (*node)->counters().guard_backlog.load() == 0 &&
           far_end.envelopes.size() == (*node)->counters().released.load();
  });
  const std::size_t first_wave = far_end.envelopes.size();

  // v2 replaces v1 while items keep coming.
  write_bundle(&v1, "\n# v2: reviewed again\n");
  std::thread more([&] { EXPECT_EQ(send((*node)->ingest_endpoint(), 2, 150), 150u); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto v = (*node)->reload_rules();
  ASSERT_TRUE(v.ok()) << v.status().reason();
  EXPECT_EQ(*v, 2u);
  more.join();
  // Until every envelope is here and v2's chunks too (they follow the swap within a
  // housekeeping turn).
  auto bundle_v2_arrived = [&] {
    BundleAssembler a;
    for (const auto& c : far_end.controls) {
      if (!is_bundle_chunk(c)) continue;
      auto whole = a.add(c);
      if (whole.ok() && *whole &&
          approval::decode_bundle(**whole)->root().getBody().getVersion() == 2)
        return true;
    }
    return false;
  };
  pump_until([&] {
    return (*node)->counters().items_judged.load() == 300 &&
           (*node)->counters().guard_backlog.load() == 0 &&
           far_end.envelopes.size() == (*node)->counters().released.load() && bundle_v2_arrived();
  });
  const auto& c = (*node)->counters();
  EXPECT_EQ(c.items_judged.load(), 300u);
  EXPECT_EQ(c.released.load() + c.blocked.load() + c.quarantined.load(), 300u)
      << "one destination with a receiver: sy";
  EXPECT_GT(c.released.load(), 0u);
  EXPECT_GT(c.blocked.load(), 0u);
  EXPECT_GT(c.quarantined.load(), 0u);
  EXPECT_EQ(far_end.losses, 0);
  ASSERT_EQ(far_end.envelopes.size(), c.released.load());

  // The far end: epoch keys from the announcements, then every envelope verifies and opens,
  // and names exactly one of the two bundles, by version and hash.
  // The bundles in use went to the relay's side too, as chunked control records.
  std::map<std::uint64_t, crypto::EpochKey> keys;
  BundleAssembler assembler;
  std::set<std::uint64_t> bundle_versions;
  for (const auto& a : far_end.controls) {
    if (is_bundle_chunk(a)) {
      auto whole = assembler.add(a);
      ASSERT_TRUE(whole.ok()) << whole.status().reason();
      if (*whole)
        bundle_versions.insert(approval::decode_bundle(**whole)->root().getBody().getVersion());
      continue;
    }
    auto k = envelope::accept_epoch(a, *root_, suite_, *rx_kx_, nullptr);
    ASSERT_TRUE(k.ok()) << k.status().reason();
    keys.emplace(k->epoch(), std::move(*k));
  }
  EXPECT_EQ(bundle_versions, (std::set<std::uint64_t>{1, 2}));
  const auto hash_v1 = verifier_.hash(approval::body_bytes(approval::decode_bundle(v1)->root()));
  std::map<std::uint64_t, int> by_version;
  std::vector<std::uint64_t> seqs;
  for (const auto& e : far_end.envelopes) {
    auto checked = envelope::verify_origin(e, *root_, suite_);
    ASSERT_TRUE(checked.ok()) << checked.status().reason();
    const auto h = checked->envelope.root().getHeader();
    seqs.push_back(h.getSeq());
    by_version[h.getRulesVersion()]++;
    if (h.getRulesVersion() == 1) {
      EXPECT_TRUE(std::equal(hash_v1.begin(), hash_v1.end(), h.getRulesHash().begin(),
                             h.getRulesHash().end()));
    }
    auto key = keys.find(h.getEpoch());
    ASSERT_NE(key, keys.end());
    envelope::Accepted a{std::move(checked->envelope), std::move(checked->leaf),
                         checked->origin_party, 0};
    auto item = envelope::open(a, key->second);
    ASSERT_TRUE(item.ok()) << item.status().reason();
  }
  // Consecutive seqs, nothing lost, none twice. Arrival order is not seq order: a FLASH
  // envelope goes out in a block of its own ahead of routine blocks still being sent.
  std::sort(seqs.begin(), seqs.end());
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(seqs[i], i + 1) << "consecutive seqs, nothing lost, none twice";
  }
  EXPECT_GE(by_version[1], static_cast<int>(first_wave));
  EXPECT_GT(by_version[2], 0) << "items after the swap are judged by v2";
  EXPECT_EQ(by_version.size(), 2u);
  (*node)->stop();
  const std::uint64_t quarantined = c.quarantined.load();
  node->reset();
  // Every decision left an audit record, in an intact hash chain (after the trustRootLoaded
  // record of the node's first start); every quarantined item is held.
  auto store = *store::Env::open({.path = dir_.file("store"), .read_only = true});
  auto report = audit::verify(*store);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value()) << report->problem;
  EXPECT_EQ(report->records, 300u + 1u) << "one per decision, and the trust root's first pin";
  auto held = *quarantine::Quarantine::open(*store);
  EXPECT_EQ(*held.size(), quarantined);
}

TEST_F(GatewayNodeTest, WithoutAnApprovedBundleNothingIsJudgedAndNothingIsLost) {
  const auto v1 = write_bundle(nullptr, "");
  // Tamper with the bundle file: one reviewer's signature is no longer valid (below threshold).
  auto bad = v1;
  bad[bad.size() - 10] ^= 1;
  ASSERT_TRUE(crypto::write_file(dir_.file("rules.bundle"), bad, 0644).ok());
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  ::testing::internal::CaptureStderr();
  auto node = GatewayNode::start(config(rx->port()), clock_);
  if (!node.ok()) ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(node.ok()) << node.status().reason();
  EXPECT_EQ((*node)->rules_version(), 0u);
  ASSERT_EQ(send((*node)->ingest_endpoint(), 3, 20), 20u)
      << "sources are still acknowledged: items are stored";
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  EXPECT_EQ((*node)->counters().items_judged.load(), 0u);
  // Many passes find no usable bundle (the old code logged every 100th: 27 lines in 6 s).
  for (int i = 0; i < 6000 && (*node)->counters().waits_no_bundle.load() < 250; ++i)
    ASSERT_TRUE(rx->poll_once(10).ok());
  EXPECT_GE((*node)->counters().waits_no_bundle.load(), 250u);
  EXPECT_TRUE(far_end.envelopes.empty());
  // The approved bundle arrives: the held items are judged and sent.
  ASSERT_TRUE(crypto::write_file(dir_.file("rules.bundle"), v1, 0644).ok());
  ASSERT_TRUE((*node)->reload_rules().ok());
  for (int i = 0; i < 2000 && (*node)->counters().items_judged.load() < 20; ++i)
    ASSERT_TRUE(rx->poll_once(10).ok());
  EXPECT_EQ((*node)->counters().items_judged.load(), 20u);
  (*node)->stop();
  // Logged once per change of state: once when no bundle is usable, once when one is again.
  const std::string log = ::testing::internal::GetCapturedStderr();
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("(judging nothing until that changes)"), 1u) << log;
  EXPECT_EQ(count("usable: judging again"), 1u) << log;
}

// A crash after a pass committed but before its envelopes left: here the store's on-the-wire
// mark is removed, as if the node died before it wrote it. The restarted gateway sends every
// envelope past the mark again, byte for byte, after the announcements of their epochs, and
// the far end can open them; new items continue the sequence without reusing a number.
TEST_F(GatewayNodeTest, AfterARestartWhatMayNotHaveLeftIsSentAgainUnchanged) {
  write_bundle(nullptr, "");
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  auto node = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(node.ok()) << node.status().reason();
  ASSERT_EQ(send((*node)->ingest_endpoint(), 11, 80), 80u);
  auto pump_until = [&](auto done) {
    for (int i = 0; i < 3000 && !done(); ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  };
  pump_until([&] {
    return (*node)->counters().items_judged.load() == 80 &&
           (*node)->counters().guard_backlog.load() == 0 &&
           far_end.envelopes.size() == (*node)->counters().released.load();
  });
  const auto released = (*node)->counters().released.load();
  ASSERT_GT(released, 0u);
  ASSERT_EQ(far_end.envelopes.size(), released);
  (*node)->stop();
  node->reset();
  const auto first = far_end.envelopes;
  far_end.envelopes.clear();
  far_end.controls.clear();
  {
    auto env = *store::Env::open({.path = dir_.file("store")});
    auto marks = *env->table("marks");
    auto txn = *env->begin_write();
    const std::string key = "wire/sy";
    ASSERT_TRUE(*txn.erase(marks, {reinterpret_cast<const std::uint8_t*>(key.data()), key.size()}));
    ASSERT_TRUE(txn.commit().ok());
  }
  auto again = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(again.ok()) << again.status().reason();
  pump_until([&] { return far_end.envelopes.size() == released; });
  EXPECT_EQ((*again)->counters().resent_after_restart.load(), released);
  // The very same bytes (FLASH envelopes overtake routine ones on the link: compare as sets).
  auto sorted = [](std::vector<std::vector<std::uint8_t>> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  ASSERT_EQ(sorted(far_end.envelopes), sorted(first));
  std::map<std::uint64_t, crypto::EpochKey> keys;
  ASSERT_NO_FATAL_FAILURE(epoch_keys(far_end, keys));
  for (const auto& e : far_end.envelopes) {
    auto checked = envelope::verify_origin(e, *root_, suite_);
    ASSERT_TRUE(checked.ok());
    ASSERT_TRUE(keys.count(checked->envelope.root().getHeader().getEpoch()))
        << "the announcement of the old epoch was sent again";
  }
  // New items continue the sequence.
  far_end.envelopes.clear();
  ASSERT_EQ(send((*again)->ingest_endpoint(), 12, 40), 40u);
  pump_until([&] {
    return (*again)->counters().items_judged.load() == 40 &&
           (*again)->counters().guard_backlog.load() == 0 &&
           far_end.envelopes.size() == (*again)->counters().released.load();
  });
  ASSERT_FALSE(far_end.envelopes.empty());
  auto first_new = envelope::verify_origin(far_end.envelopes.front(), *root_, suite_);
  ASSERT_TRUE(first_new.ok());
  EXPECT_EQ(first_new->envelope.root().getHeader().getSeq(), released + 1);
  (*again)->stop();
  // A clean stop stores the mark: the next start sends nothing again.
  again->reset();
  auto third = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(third.ok());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  EXPECT_EQ((*third)->counters().resent_after_restart.load(), 0u);
  (*third)->stop();
}

// A reviewer releases a held item: the running gateway verifies the signed release and sends
// exactly the held bytes; a release signed by someone who is not a reviewer is refused and
// the item stays held.
TEST_F(GatewayNodeTest, AReviewersSignedReleaseSendsTheHeldItem) {
  write_bundle(nullptr, "");
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  auto node = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(node.ok()) << node.status().reason();
  ASSERT_EQ(send((*node)->ingest_endpoint(), 21, 200), 200u);
  auto pump_until = [&](auto done) {
    for (int i = 0; i < 3000 && !done(); ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  };
  pump_until([&] {
    return (*node)->counters().items_judged.load() == 200 &&
           (*node)->counters().guard_backlog.load() == 0 &&
           far_end.envelopes.size() == (*node)->counters().released.load();
  });
  ASSERT_GT((*node)->counters().quarantined.load(), 0u);
  const auto released_before = (*node)->counters().released.load();
  // The reviewer's side, as `cellgate quarantine release` does it, next to the running node.
  auto env = *store::Env::open({.path = dir_.file("store")});
  auto q = *quarantine::Quarantine::open(*env);
  auto holds = *q.list(0, 10);
  ASSERT_GE(holds.size(), 1u);
  const auto& hold = holds.front();
  const auto statement = quarantine::Quarantine::release_statement(hold, verifier_);
  auto request = [&](const crypto::SigningKey& k) {
    quarantine::Quarantine::Request r;
    r.hold = hold.id;
    r.key_id = crypto::key_id(suite_.id(), k.public_key());
    r.signature.resize(suite_.signature_bytes());
    EXPECT_TRUE(k.sign(statement, r.signature).ok());
    auto txn = *env->begin_write();
    EXPECT_TRUE(q.request(txn, r).ok());
    EXPECT_TRUE(txn.commit().ok());
  };
  request(*root_key_);  // the root key is no reviewer of il
  pump_until([&] { return (*node)->counters().releases_refused.load() == 1; });
  EXPECT_EQ((*node)->counters().releases_refused.load(), 1u);
  ASSERT_TRUE((*q.get(hold.id)).has_value()) << "a refused release leaves the item held";
  far_end.envelopes.clear();
  request(*reviewers_[1]);  // il/r1: 1 of 2 (the trust root's default release threshold)
  pump_until([&] { return (*node)->counters().release_approvals.load() == 1; });
  EXPECT_EQ((*node)->counters().release_approvals.load(), 1u);
  ASSERT_TRUE((*q.get(hold.id)).has_value()) << "one reviewer alone does not release";
  EXPECT_TRUE(far_end.envelopes.empty());
  request(*reviewers_[1]);  // il/r1 again: never counts twice
  pump_until([&] { return (*node)->counters().releases_refused.load() == 2; });
  EXPECT_EQ((*node)->counters().releases_refused.load(), 2u);
  ASSERT_TRUE((*q.get(hold.id)).has_value());
  request(*reviewers_[2]);  // il/r2: 2 of 2, released
  pump_until([&] { return far_end.envelopes.size() == 1; });
  EXPECT_EQ((*node)->counters().released_by_reviewer.load(), 1u);
  EXPECT_EQ((*node)->counters().released.load(), released_before + 1);
  ASSERT_EQ(far_end.envelopes.size(), 1u);
  EXPECT_FALSE((*q.get(hold.id)).has_value()) << "released: no longer held";
  // The envelope carries exactly the held bytes.
  std::map<std::uint64_t, crypto::EpochKey> keys;
  ASSERT_NO_FATAL_FAILURE(epoch_keys(far_end, keys));
  auto checked = envelope::verify_origin(far_end.envelopes[0], *root_, suite_);
  ASSERT_TRUE(checked.ok());
  auto key = keys.find(checked->envelope.root().getHeader().getEpoch());
  ASSERT_NE(key, keys.end());
  envelope::Accepted a{std::move(checked->envelope), std::move(checked->leaf),
                       checked->origin_party, 0};
  auto item = envelope::open(a, key->second);
  ASSERT_TRUE(item.ok());
  EXPECT_TRUE(std::equal(item->canonical_bytes().begin(), item->canonical_bytes().end(),
                         hold.item.begin(), hold.item.end()));
  (*node)->stop();
}

// `cellgate quarantine release|reject` next to a running gateway: each command checks what the
// gateway checks (with its code) and says the gateway's answer in its exit code; a reject is
// signed by a reviewer and audited with the reviewer's name; a wrongly signed reject that
// reaches the gateway is refused and audited; with the gateway stopped, the command says it got
// no verdict.
TEST_F(GatewayNodeTest, ReviewerCommandsCheckWhatTheGatewayChecksAndSayItsAnswer) {
  write_bundle(nullptr, "");
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  const auto gw = config(rx->port());
  auto node = GatewayNode::start(gw, clock_);
  ASSERT_TRUE(node.ok()) << node.status().reason();
  ASSERT_EQ(send((*node)->ingest_endpoint(), 21, 200), 200u);
  auto pump_until = [&](auto done) {
    for (int i = 0; i < 3000 && !done(); ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  };
  pump_until([&] {
    return (*node)->counters().items_judged.load() == 200 &&
           (*node)->counters().guard_backlog.load() == 0;
  });
  ASSERT_GE((*node)->counters().quarantined.load(), 3u);
  auto key_file = [&](const crypto::SigningKey& k, const std::string& name) {
    auto file = *crypto::encode_private_key(suite_.id(), crypto::KeyKind::signing, k.public_key(),
                                            k.private_bytes(), nullptr, true);
    EXPECT_TRUE(crypto::write_file(dir_.file(name), file, 0600).ok());
    return cli::KeyOptions{dir_.file(name), "", true};
  };
  const auto root_key = key_file(*root_key_, "root.sign");
  const auto node_key = cli::KeyOptions{gw_.signing, "", true};
  const auto reviewer = key_file(*reviewers_[1], "r1.sign");         // il/r1
  const auto second_reviewer = key_file(*reviewers_[0], "r0.sign");  // il/r0
  auto env = *store::Env::open({.path = dir_.file("store")});
  auto q = *quarantine::Quarantine::open(*env);
  auto holds = *q.list(0, 10);
  ASSERT_GE(holds.size(), 3u);
  auto pending = [&] {
    auto txn = *env->begin_write();
    return q.requests(txn, 100)->size();
  };
  cli::QuarantineDecisionOptions o;
  o.hold = holds[0].id;
  o.wait_s = 60;
  o.reason = "not for sy";
  // Keys that are not reviewers of il: refused here, as the gateway would; nothing handed over.
  for (const auto& k : {root_key, node_key}) {
    o.key = k;
    EXPECT_EQ(cli::quarantine_release(gw, o), cli::exit_failed);
    EXPECT_EQ(cli::quarantine_reject(gw, o), cli::exit_failed);
  }
  EXPECT_EQ(pending(), 0u);
  EXPECT_EQ((*node)->counters().releases_refused.load(), 0u) << "refused before the gateway";
  EXPECT_EQ((*node)->counters().rejects_refused.load(), 0u) << "refused before the gateway";
  o.key = reviewer;
  o.reason.clear();
  EXPECT_EQ(cli::quarantine_reject(gw, o), cli::exit_usage) << "a reject needs a reason";
  EXPECT_EQ(pending(), 0u);
  ASSERT_TRUE((*q.get(holds[0].id)).has_value());
  // A reviewer's approval: counted, 1 of 2, still held; the same reviewer again is refused here.
  ::testing::internal::CaptureStdout();
  const int approved = cli::quarantine_release(gw, o);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(approved, cli::exit_ok) << out;
  EXPECT_NE(out.find("approval by il/r1 counted: reviewers il/r1 (1 of 2)"), std::string::npos)
      << out;
  EXPECT_TRUE((*q.get(holds[0].id)).has_value());
  EXPECT_EQ(cli::quarantine_release(gw, o), cli::exit_failed) << "a reviewer counts once";
  // A second reviewer's release: the gateway's verdict, sent, with both names.
  o.key = second_reviewer;
  ::testing::internal::CaptureStdout();
  const int released = cli::quarantine_release(gw, o);
  out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(released, cli::exit_ok) << out;
  EXPECT_NE(out.find("released by reviewers il/r1 il/r0 (2 of 2)"), std::string::npos) << out;
  EXPECT_FALSE((*q.get(holds[0].id)).has_value());
  EXPECT_EQ((*node)->counters().released_by_reviewer.load(), 1u);
  EXPECT_EQ(cli::quarantine_release(gw, o), cli::exit_failed) << "no such hold any more";
  o.key = reviewer;
  // A reviewer's reject: signed, applied, audited with the reviewer and the reason.
  o.hold = holds[1].id;
  o.reason = "not for sy";
  ::testing::internal::CaptureStdout();
  const int rejected_rc = cli::quarantine_reject(gw, o);
  out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(rejected_rc, cli::exit_ok) << out;
  EXPECT_NE(out.find("rejected by reviewer il/r1"), std::string::npos) << out;
  EXPECT_FALSE((*q.get(holds[1].id)).has_value());
  EXPECT_EQ((*node)->counters().rejected_by_reviewer.load(), 1u);
  // A reject that did not come through the command (a bad signature) reaches the gateway:
  // refused, audited, answered; the item stays held.
  {
    quarantine::Quarantine::Request r;
    r.hold = holds[2].id;
    r.decision = quarantine::Decision::reject;
    r.key_id = crypto::key_id(suite_.id(), reviewers_[1]->public_key());
    r.signature.assign(suite_.signature_bytes(), 0x5a);
    r.reason = "forged";
    auto txn = *env->begin_write();
    ASSERT_TRUE(q.request(txn, r).ok());
    ASSERT_TRUE(txn.commit().ok());
  }
  std::optional<quarantine::Quarantine::Verdict> verdict;
  for (int i = 0; i < 3000 && !verdict; ++i) {
    ASSERT_TRUE(rx->poll_once(10).ok());
    verdict = *q.verdict(holds[2].id, quarantine::Decision::reject,
                         crypto::key_id(suite_.id(), reviewers_[1]->public_key()));
  }
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(verdict->outcome, quarantine::Quarantine::Outcome::refused);
  EXPECT_NE(verdict->detail.find("does not verify"), std::string::npos) << verdict->detail;
  EXPECT_EQ((*node)->counters().rejects_refused.load(), 1u);
  EXPECT_TRUE((*q.get(holds[2].id)).has_value());
  // No gateway running: the command says it got no verdict (and the request waits for it).
  (*node)->stop();
  o.wait_s = 1;
  o.hold = holds[2].id;
  EXPECT_EQ(cli::quarantine_reject(gw, o), cli::exit_no_verdict);
  EXPECT_EQ(pending(), 1u) << "the signed reject waits for the gateway";
  // The audit log names who decided and why, and the refused reject.
  bool rejected_audited = false, refused_audited = false, released_audited = false;
  auto report = audit::verify(*env, [&](std::uint64_t, schema::AuditRecord::Reader r) {
    const std::string detail(wire::view(r.getDetail()));
    const std::string reason(wire::view(r.getReason()));
    if (r.getEvent() == schema::AuditEvent::QUARANTINE_REJECTED &&
        detail.find("il/r1") != std::string::npos && detail.find("not for sy") != std::string::npos)
      rejected_audited = true;
    if (r.getEvent() == schema::AuditEvent::QUARANTINE_RELEASED &&
        detail.find("il/r1") != std::string::npos)
      released_audited = true;
    if (r.getEvent() == schema::AuditEvent::REJECTED_INPUT && reason == "reject refused")
      refused_audited = true;
  });
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value());
  EXPECT_TRUE(rejected_audited);
  EXPECT_TRUE(released_audited);
  EXPECT_TRUE(refused_audited);
}

}  // namespace
}  // namespace cg::node
